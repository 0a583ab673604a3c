// The customer's side of the chat, running in the widget's iframe (templates/widget/frame.html):
// what the visitor does, and the page around the chat. The rest is in small modules:
//   state.js       what the chat knows (one object each, shared)
//   session.js     the session token (POST /widget/session)
//   connection.js  the socket (static/common/reconnect.js) and the sync from the last sequence
//   frames.js      frames from the server
//   outbox.js      messages on their way, and the read mark
//   render.js      everything drawn (message data only ever with textContent)
//   orders.js      self-service before a chat: orders, answers, one click to an agent
//   ui.js          the elements and the status line
//   articles.js    help-center suggestions and their reader, before a chat starts
//
// Nothing is lost or shown twice across drops, server restarts and Redis restarts (state.js
// says how).

import { ClientFrame } from "../common/protocol.js";
import { beforeMessage } from "./articles.js";
import { connectionStart, send, sync } from "./connection.js";
import { selfServiceAsk } from "./orders.js";
import { messageSend, readMark } from "./outbox.js";
import { embedded, isVisible, state, tellHost } from "./state.js";
import { root, showError, ui } from "./ui.js";
import { t } from "./words.js";

const MESSAGE_MAX_CHARS = Number(root.dataset.messageMaxChars) || 4000;
const TYPING_EVERY_MS = 2000;
const QUIET_RESYNC_MS = 60000; // belt and braces for a socket whose group membership was lost
let lastTypingSent = 0;

ui.emailForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const email = ui.emailInput.value.trim();
  if (!email || !ui.emailInput.checkValidity()) {
    ui.emailNote.dataset.state = "error";
    ui.emailNote.textContent = t("email_invalid");
    return;
  }
  ui.emailNote.dataset.state = "";
  ui.emailNote.textContent = state.ready && send({ type: ClientFrame.EMAIL, email }) ? t("saving")
    : t("not_connected");
});

ui.composerForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = ui.composer.value;
  if (!body.trim()) return;
  if ([...body].length > MESSAGE_MAX_CHARS) {
    showError(t("too_long", { count: MESSAGE_MAX_CHARS }));
    return;
  }
  ui.composer.value = "";
  // A signed-in customer's first message may be answered from self-service (orders.js) instead;
  // otherwise what was read is recorded first (articles.js), then the message goes.
  if (!selfServiceAsk(body)) beforeMessage().then(() => messageSend(body));
  ui.composer.focus();
});

ui.end.addEventListener("click", () => {
  if (state.conversationId === null || state.resolved) return;
  if (state.ready && send({ type: ClientFrame.END, conversation_id: state.conversationId })) {
    ui.end.disabled = true; // until `ended` (or an error) answers
  } else {
    showError(t("not_connected"));
  }
});

ui.composer.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    ui.composerForm.requestSubmit();
  }
});

ui.composer.addEventListener("input", () => {
  const now = Date.now();
  // Typing goes to an agent only in a chat, and at most every 2 s (frames count against the rate limit).
  if (state.ready && state.conversationId !== null && !state.resolved && now - lastTypingSent >= TYPING_EVERY_MS) {
    if (send({ type: ClientFrame.TYPING })) lastTypingSent = now;
  }
});

// --- the page around it ---------------------------------------------------------------------------

document.addEventListener("visibilitychange", readMark);

window.addEventListener("message", (event) => {
  // Only the embedding page says whether the chat is open; its origin is any host's.
  if (!embedded || event.source !== window.parent) return;
  const data = event.data;
  if (!data || data.source !== "supportdesk-host" || data.type !== "visibility") return;
  state.hostOpen = Boolean(data.open);
  if (state.hostOpen) {
    readMark();
    ui.composer.focus();
  }
});

if (embedded) {
  ui.close.hidden = false;
  ui.close.addEventListener("click", () => tellHost({ type: "close" }));
}

setInterval(() => {
  if (state.ready && state.conversationId !== null && isVisible()) sync();
}, QUIET_RESYNC_MS);

// The host names its launcher in the visitor's language too (embed.js puts these in as text).
tellHost({ type: "ready", labels: { open: t("title"), close: t("launcher_close") } });
connectionStart();
