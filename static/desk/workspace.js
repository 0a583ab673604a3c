// The agent workspace in the browser: the live feed (/ws/agent/), the open conversation's
// messages and typing, macros in the composer, the offer countdown and keyboard shortcuts.
// Pages and partials come from the server (conversations/workspace.py) through htmx; this
// module only keeps them live. Message data is only ever written as text, never as HTML.
//
// Nothing pushed is lost for good: sequence numbers have no gaps, so a message that skips one
// means a push went missing (a Redis blip with the socket still open) and the open conversation
// is synced from the server, as it is on every reconnect and once a minute (the lists are
// reloaded then too). The message the agent composes carries a client id that survives
// retries, so a reply sent again after a timeout is stored once.

import { timeElement, timesRender, wordsFill } from "../common/format.js";
import { ClientFrame, Frame } from "../common/protocol.js";
import { Backoff, ReconnectingSocket } from "../common/reconnect.js";
import { notifyOffer, primeAlerts } from "./alerts.js";
import { insertedForget, insertedIn, insertedRecord } from "./composer.js";
import { $, $$ } from "./dom.js";
import { flash } from "./flash.js";
import { LABELS } from "./labels.js";
import { isNote, noteModeShow } from "./shortcuts.js";

const HEARTBEAT_MS = 30000;
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 4000;
const REFRESH_EVENT = "desk-refresh";
const CUSTOMER_WROTE_EVENT = "desk-customer-wrote"; // suggestions.js listens
const RESYNC_MS = 60000; // belt and braces for a lost push that no later message reveals
const GAP_WAIT_MS = 300; // a burst of pushes (or two groups' pushes crossing) costs one sync
const SYNC_ANSWER_MS = 10000; // a sync unanswered this long was lost: the next one may go

const root = document.getElementById("workspace");
// lastSequence: every message up to it is shown (the server renders a consecutive run).
const open = { id: null, lastSequence: 0, macros: {} };
// The sync in flight (for which conversation, since when), and one refused (taken away): not asked again.
const syncing = { for: null, sentAt: 0, again: false, progressed: false, timer: null, refused: null };
// The composed message's client id, kept while the same text is sent again to the same place;
// and the text of the send in flight, the only text its success may take out of the composer.
const composing = { id: null, key: null, sending: null };
let lastTypingSent = 0;
let typingTimer = null;
let refreshTimer = null;

// --- the socket ---------------------------------------------------------------------------------

const socketUrl = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${root.dataset.wsPath}`;
const socket = new ReconnectingSocket(socketUrl, {
  onOpen() {
    heartbeat();
    syncing.for = null; // whatever was asked on the old socket gets no answer now
    // A reconnect: follow the open conversation again and fetch what was missed.
    if (open.id !== null) follow(open.id);
    refreshLists(); // offers may have come and gone while the socket was down
  },
  onFrame: handleFrame,
  onState(state) {
    const badge = $("[data-testid=socket-state]");
    if (!badge) return;
    badge.dataset.state = state;
    // Said in words too: the badge is a live region, so screen readers hear the change.
    const words = $("[data-testid=socket-state-text]", badge);
    if (words) words.textContent = LABELS.socket[state] || state;
  },
  backoff: new Backoff({ firstMs: 500, maxMs: 30000 }),
});

function heartbeat() {
  if (root.dataset.isAgent === "true") socket.send({ type: ClientFrame.HEARTBEAT });
}
setInterval(heartbeat, HEARTBEAT_MS);

function follow(conversationId) {
  socket.send({ type: ClientFrame.WATCH, conversation_id: conversationId });
  sync();
}

// Ask for what came after the last message shown in order; the answer is chat.message frames,
// then `synced` with how far the conversation goes.
function sync() {
  clearTimeout(syncing.timer);
  syncing.timer = null;
  if (open.id === null) return;
  if (syncing.for === open.id && Date.now() - syncing.sentAt < SYNC_ANSWER_MS) {
    syncing.again = true; // one at a time: ask again from where this one leaves off
    return;
  }
  if (socket.send({ type: ClientFrame.SYNC, conversation_id: open.id, after: open.lastSequence })) {
    syncing.for = open.id;
    syncing.sentAt = Date.now();
    syncing.again = false;
    syncing.progressed = false;
  }
}

function syncSoon() {
  if (!syncing.timer) syncing.timer = setTimeout(sync, GAP_WAIT_MS);
}

function syncedApply(frame) {
  const conversation = frame.conversation;
  if (!conversation || conversation.id !== syncing.for) return;
  syncing.for = null;
  if (conversation.id !== open.id) return;
  // The server answers a bounded page: go on while pages bring what is missing.
  const behind = open.lastSequence < (conversation.last_sequence || 0);
  if (syncing.again || (behind && syncing.progressed)) sync();
}

setInterval(() => {
  if (!socket.isOpen) return; // the reconnect syncs
  if (open.id !== null && syncing.refused !== open.id) sync();
  refreshLists(); // offers and unread counts whose push went missing
  if ($("#call-panel:not([hidden])")) callPanelReload(); // a call's change whose push went missing
}, RESYNC_MS);

function handleFrame(frame) {
  switch (frame.type) {
    case Frame.ROUTING_ITEM:
      refreshLists();
      if (frame.event === "offered") {
        notifyOffer({ itemId: frame.item_id, conversationId: frame.conversation_id, channel: frame.channel });
      }
      break;
    case Frame.ROUTING_PRESENCE:
      presenceShow(frame.presence);
      break;
    case Frame.CHAT_MESSAGE:
      if (frame.conversation_id === open.id) {
        messageShow(frame);
        if (frame.direction === "in") {
          typingShow(false);
          readMark();
          // The customer wrote: what to answer with may have changed (suggestions.js).
          document.dispatchEvent(new CustomEvent(CUSTOMER_WROTE_EVENT, { detail: { conversationId: open.id } }));
        }
      } else if (frame.direction === "in") {
        refreshLists(); // its unread count moved
      }
      break;
    case Frame.CHAT_TYPING:
      if (frame.conversation_id === open.id && frame.side === "contact") typingShow(true);
      break;
    case Frame.SYNCED:
      syncedApply(frame);
      readMark();
      break;
    case Frame.CHAT_STATUS:
      if (frame.conversation_id === open.id) statusShow(frame.status);
      refreshLists();
      break;
    case Frame.CHAT_AGENT:
      refreshLists();
      break;
    case Frame.CHAT_DELIVERY:
      if (frame.conversation_id === open.id) deliveryShow(frame);
      break;
    case Frame.CHAT_CALL:
      if (frame.conversation_id === open.id) callPanelReload();
      break;
    case Frame.CHAT_READ:
      // The agents' read mark moved (this agent opened, read or answered it): the unread
      // badge in the list is the server's count, so it is fetched again.
      if (frame.side === "agent") refreshLists();
      break;
    case Frame.ERROR:
      if (frame.in_reply_to === ClientFrame.SYNC) {
        if (frame.code === "not_found") syncing.refused = syncing.for;
        syncing.for = null;
      }
      // A conversation taken away (transferred by a supervisor) answers not_found: say so.
      flash(frame.message || LABELS.refused);
      break;
    default:
      break;
  }
}

function refreshLists() {
  // Several pushes often come together (offer withdrawn, next one offered): one reload.
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => htmx.trigger(document.body, REFRESH_EVENT), 100);
}

// Shown in place rather than by reloading the view, which could race with (and undo) the
// answer to this agent's own resolve.
function statusShow(status) {
  const thread = $("[data-testid=conversation]");
  if (!thread) return;
  thread.dataset.status = status;
  const label = $("[data-testid=conversation-status]", thread);
  if (label) label.textContent = LABELS.statuses[status] || status; // as the template's get_status_display
  if (status === "resolved" || status === "closed") {
    $$("#composer, .actions", thread).forEach((element) => element.remove());
  }
}

// A call of the open conversation rang, was answered, held or ended: the panel is drawn again by
// the server (several frames in a row make one reload).
let callPanelTimer = null;
function callPanelReload() {
  clearTimeout(callPanelTimer);
  callPanelTimer = setTimeout(() => {
    const panel = $("#call-panel");
    if (panel && panel.dataset.url) htmx.ajax("GET", panel.dataset.url, { target: panel, swap: "outerHTML" });
  }, 100);
}

// An outbound email or messaging reply's delivery: queued, sent, delivered, read or failed (with why).
// Frames may overtake the message they are about (the send can finish before its push arrives):
// the latest is kept until the message is drawn, and a state never goes back (as on the server).
const DELIVERY_RANK = { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 };
const deliveryLatest = new Map(); // sequence -> the latest frame, for the open conversation

function deliveryShow(frame) {
  const sequence = Number(frame.sequence);
  const known = deliveryLatest.get(sequence);
  if (!known || DELIVERY_RANK[frame.state] > DELIVERY_RANK[known.state]) deliveryLatest.set(sequence, frame);
  $$(`[data-testid=message][data-sequence="${sequence}"]`, messageList() || document)
    .forEach((item) => deliveryShowIn(item, deliveryLatest.get(sequence)));
}

function deliveriesApply() {
  for (const [sequence, frame] of deliveryLatest) {
    $$(`[data-testid=message][data-sequence="${sequence}"]`, messageList() || document)
      .forEach((item) => deliveryShowIn(item, frame));
  }
}

function deliveryShowIn(item, frame) {
  const later = deliveryLatest.get(Number(item.dataset.sequence));
  if (later && DELIVERY_RANK[later.state] > DELIVERY_RANK[frame.state]) frame = later;
  let badge = $("[data-testid=delivery]", item);
  if (badge && DELIVERY_RANK[badge.dataset.state] > DELIVERY_RANK[frame.state]) return;
  if (!badge) {
    badge = document.createElement("div");
    badge.dataset.testid = "delivery";
    item.append(badge);
  }
  badge.className = `delivery delivery-${frame.state}`;
  badge.dataset.state = frame.state;
  badge.textContent = frame.detail ? `${frame.label}: ${frame.detail}` : frame.label;
}

function presenceShow(presence) {
  const select = $("[data-testid=presence-toggle]");
  if (!select) return;
  select.value = presence;
  const form = select.closest("form");
  form.className = form.className.replace(/presence-\w+/, `presence-${presence}`);
}

// --- the open conversation ----------------------------------------------------------------------

function messageList() {
  return $("[data-testid=message-list]");
}

function sequenceOf(element) {
  return Number(element.dataset.sequence);
}

function messageElement(message) {
  const item = document.createElement("li");
  item.className = `message message-${message.direction}`;
  item.dataset.testid = "message";
  item.dataset.sequence = String(message.sequence);
  item.dataset.direction = message.direction;
  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  // As templates/desk/_message.html writes it: the same name (the push's `author`), the same clock.
  const who = message.direction === "in" ? LABELS.contact : message.author || LABELS.system;
  author.textContent = message.direction === "note" ? `${who} · ${LABELS.note}` : who;
  meta.append(author, " ", timeElement(message.created_at, "clock"));
  const body = document.createElement("div");
  body.className = "body";
  body.textContent = message.body;
  item.append(meta, body);
  if (message.attachments?.length) {
    const files = document.createElement("ul");
    files.className = "attachments";
    files.dataset.testid = "attachments";
    for (const file of message.attachments) {
      const link = document.createElement("a");
      link.href = file.url;
      link.download = "";
      link.dataset.testid = "attachment";
      link.textContent = file.name;
      const entry = document.createElement("li");
      entry.append(link);
      files.append(entry);
    }
    item.append(files);
  }
  const delivery = message.delivery || deliveryLatest.get(Number(message.sequence));
  if (delivery) deliveryShowIn(item, delivery);
  return item;
}

// In sequence order, each sequence once, whichever way it came (push, sync or the reply's answer).
function messageShow(message) {
  const list = messageList();
  if (!list || $(`[data-sequence="${Number(message.sequence)}"]`, list)) return;
  const element = messageElement(message);
  const after = $$("[data-sequence]", list).find((other) => sequenceOf(other) > message.sequence);
  list.insertBefore(element, after || null);
  if (syncing.for === open.id) syncing.progressed = true;
  gapCheck(list);
  if (!after) list.scrollTop = list.scrollHeight;
}

// Move lastSequence over the run of messages shown after it; a message beyond the run means
// one in between was not pushed to us: fetch it.
function gapCheck(list) {
  const shown = new Set($$("[data-sequence]", list).map(sequenceOf));
  while (shown.has(open.lastSequence + 1)) open.lastSequence += 1;
  if (Math.max(0, ...shown) > open.lastSequence && syncing.for !== open.id) syncSoon();
}

function messagesTidy() {
  const list = messageList();
  if (!list) return;
  const seen = new Set();
  const items = $$("[data-sequence]", list);
  items.forEach((item) => {
    const sequence = sequenceOf(item);
    if (seen.has(sequence)) item.remove();
    seen.add(sequence);
  });
  const kept = $$("[data-sequence]", list);
  const sorted = [...kept].sort((a, b) => sequenceOf(a) - sequenceOf(b));
  if (sorted.some((item, index) => item !== kept[index])) list.append(...sorted);
  gapCheck(list);
  list.scrollTop = list.scrollHeight;
}

function readMark() {
  if (open.id !== null && open.lastSequence > 0 && document.visibilityState === "visible") {
    socket.send({ type: ClientFrame.READ, conversation_id: open.id, sequence: open.lastSequence });
  }
}
document.addEventListener("visibilitychange", readMark);

function typingShow(shown) {
  const indicator = $("[data-testid=typing-indicator]");
  if (!indicator) return;
  clearTimeout(typingTimer);
  indicator.hidden = !shown;
  if (shown) typingTimer = setTimeout(() => typingShow(false), TYPING_SHOWN_MS);
}

// After every swap: has another conversation opened (or the open one closed)?
function conversationNoticed() {
  const thread = $("[data-testid=conversation]");
  const id = thread ? Number(thread.dataset.conversationId) : null;
  if (thread) {
    const macros = document.getElementById("macros-data");
    open.macros = macros ? JSON.parse(macros.textContent) : {};
  }
  if (id === open.id) {
    messagesTidy();
    return;
  }
  if (open.id !== null) socket.send({ type: ClientFrame.UNWATCH, conversation_id: open.id });
  open.id = id;
  deliveryLatest.clear();
  insertedForget(); // what was put in another conversation's composer is not this reply's
  open.lastSequence = thread ? Number(thread.dataset.lastSequence) || 0 : 0;
  clearTimeout(syncing.timer);
  Object.assign(syncing, { for: null, again: false, progressed: false, timer: null, refused: null });
  typingShow(false);
  messagesTidy();
  if (id !== null) follow(id);
  $$("[data-testid=conversation-entry]").forEach((entry) => {
    entry.classList.toggle("current", Number(entry.dataset.conversationId) === id);
  });
}

// --- the composer ---------------------------------------------------------------------------------

const MACRO_BEFORE_CARET = /(^|\s)#([A-Za-z0-9_-]+)$/;

function macroExpand(textarea) {
  const caret = textarea.selectionStart;
  if (caret !== textarea.selectionEnd) return false;
  const match = MACRO_BEFORE_CARET.exec(textarea.value.slice(0, caret));
  if (!match) return false;
  const shortcut = match[2] in open.macros ? match[2] : match[2].toLowerCase();
  const text = open.macros[shortcut];
  if (text === undefined) return false;
  textarea.setRangeText(text, caret - match[2].length - 1, caret, "end");
  textarea.dispatchEvent(new Event("input", { bubbles: true }));
  insertedRecord(`macro:${shortcut}`, text);
  return true;
}

function composerTyped() {
  // Notes are for colleagues: the contact must not see the agent "typing" one.
  if (open.id === null || isNote()) return;
  const now = Date.now();
  if (now - lastTypingSent < TYPING_EVERY_MS) return;
  lastTypingSent = now;
  socket.send({ type: ClientFrame.TYPING, conversation_id: open.id });
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The same text sent again to the same conversation, as the same kind, is a retry: same id.
// Edited text is a new message with a new id.
function composerClientId(form) {
  const key = JSON.stringify([open.id, isNote(), $("[data-testid=composer]", form).value]);
  if (composing.key !== key) Object.assign(composing, { id: newClientId(), key });
  return composing.id;
}

document.addEventListener("keydown", (event) => {
  const textarea = event.target.closest?.("[data-testid=composer]");
  if (textarea && (event.key === " " || event.key === "Tab") && !event.shiftKey && macroExpand(textarea)) {
    event.preventDefault();
    return;
  }
  if (textarea && event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    textarea.form.requestSubmit();
  }
});
document.addEventListener("input", (event) => {
  if (event.target.matches?.("[data-testid=composer]")) composerTyped();
});
document.addEventListener("change", (event) => {
  if (event.target.matches?.("[data-testid=note-toggle]")) noteModeShow();
});

// --- offers: the countdown ----------------------------------------------------------------------------

function countdownTick() {
  $$("[data-testid=offer-countdown]").forEach((clock) => {
    const seconds = Math.max(0, Math.round((Date.parse(clock.dataset.expiresAt) - Date.now()) / 1000));
    clock.textContent = seconds > 0 ? `${seconds}s` : "expired";
    const offer = clock.closest("[data-testid=offer]");
    offer?.classList.toggle("expiring", seconds <= 5);
    const accept = offer && $("[data-testid=offer-accept]", offer);
    if (accept) accept.disabled = seconds === 0;
  });
}
setInterval(countdownTick, 1000);

// --- htmx glue -------------------------------------------------------------------

document.body.addEventListener("htmx:beforeRequest", (event) => {
  // A new action clears the last one's error; list refreshes leave it standing.
  if (event.detail.requestConfig?.verb !== "get") document.getElementById("desk-flash")?.replaceChildren();
});
document.body.addEventListener("htmx:configRequest", (event) => {
  const form = event.detail.elt;
  if (form.id === "composer") {
    event.detail.parameters.client_id = composerClientId(form);
    composing.sending = event.detail.parameters.body;
    event.detail.parameters.inserted = insertedIn(event.detail.parameters.body || "");
  }
});

// What stays in the composer once `sent` is stored: what the agent typed after it while it was
// on its way (the sent text, at the start, is taken out); anything else edited stays whole.
function composerRest(value, sent) {
  if (sent === null || sent === undefined || !value.startsWith(sent)) return value;
  return value.slice(sent.length).replace(/^\s+/, "");
}
// The stored reply comes back drawn; its push may have drawn it already (with a newer delivery
// state): then the answer is not added a second time.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  if (event.detail.elt?.id !== "composer" || !event.detail.shouldSwap) return;
  const sequence = /data-sequence="(\d+)"/.exec(event.detail.serverResponse || "")?.[1];
  const list = messageList();
  if (sequence && list && $(`[data-sequence="${sequence}"]`, list)) event.detail.shouldSwap = false;
});
document.body.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  // Only a stored message empties the composer: after a refusal the text is still there to fix.
  if (form.id === "composer" && event.detail.xhr.status >= 200 && event.detail.xhr.status < 300) {
    const textarea = $("[data-testid=composer]", form);
    textarea.value = composerRest(textarea.value, composing.sending);
    textarea.focus();
    Object.assign(composing, { id: null, key: null, sending: null });
    insertedForget();
  }
});
document.body.addEventListener("htmx:responseError", () => flash(LABELS.server_failed));
document.body.addEventListener("htmx:sendError", () => flash(LABELS.no_connection));
document.body.addEventListener("htmx:timeout", () => flash(LABELS.timeout));
document.body.addEventListener("htmx:afterSettle", () => {
  timesRender(); // the swapped part, and any part swapped out of band with it
  conversationNoticed(); // first: another conversation opened forgets the last one's deliveries
  deliveriesApply(); // a reply the server drew as it was stored, after its delivery was reported
  countdownTick();
});
document.body.addEventListener("htmx:historyRestore", conversationNoticed);

// Browsers let pages notify and play sound only after the user did something.
document.addEventListener("pointerdown", primeAlerts, { once: true });
document.addEventListener("keydown", primeAlerts, { once: true });

timesRender();
conversationNoticed();
countdownTick();
