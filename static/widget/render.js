// Everything the chat draws. Message data is only ever put in the page with textContent.

import { timeElement } from "../common/format.js";
import { state, timers } from "./state.js";
import { ui } from "./ui.js";
import { t } from "./words.js";

const TYPING_SHOWN_MS = 5000;
let typingTimer = null;

export function messageElement({ direction, body, author, createdAt }) {
  const li = document.createElement("li");
  li.className = `msg msg-${direction === "in" ? "mine" : "theirs"}`;
  li.dataset.testid = "message";
  li.dataset.direction = direction;
  if (direction !== "in") {
    const who = document.createElement("span");
    who.className = "msg-author";
    who.textContent = author || t("support");
    li.append(who);
  }
  const text = document.createElement("p");
  text.className = "msg-body";
  text.textContent = body;
  const meta = document.createElement("span");
  meta.className = "msg-meta";
  const delivery = document.createElement("span");
  delivery.className = "msg-state";
  meta.append(timeElement(createdAt, "clock"), delivery); // still sending: the time it was written
  li.append(text, meta);
  return li;
}

export function messageRender(message) {
  const li = messageElement({ direction: message.direction, body: message.body, author: message.author,
    createdAt: message.created_at });
  li.dataset.conversation = String(message.conversation_id);
  li.dataset.sequence = String(message.sequence);
  li.sortKey = [message.conversation_id, message.sequence];
  if (message.direction === "in") stateSet(li, message.sequence <= state.agentReadSeq ? "seen" : "sent");
  else li.dataset.state = "received";
  return li;
}

export function stateSet(li, deliveryState, note = "") {
  li.dataset.state = deliveryState;
  const delivery = li.querySelector(".msg-state");
  const label = t(`state_${deliveryState}`);
  if (delivery) delivery.textContent = note ? `${label}: ${note}` : label;
}

// Messages stand in (conversation, sequence) order, kept on each <li> as `sortKey`; those still
// sending have none and come after them all.
export function messagePlace(li) {
  const [conversation, sequence] = li.sortKey;
  const items = ui.list.children;
  let before = null;
  for (let i = items.length - 1; i >= 0; i -= 1) { // usually the newest: look from the end
    const item = items[i];
    if (!item.sortKey) { before = item; continue; }
    const [c, s] = item.sortKey;
    if (c < conversation || (c === conversation && s < sequence)) break;
    before = item;
  }
  const atBottom = ui.list.scrollHeight - ui.list.scrollTop - ui.list.clientHeight < 40;
  ui.list.insertBefore(li, before);
  if (atBottom || !before) ui.list.scrollTop = ui.list.scrollHeight;
}

export function seenRefresh() {
  if (state.conversationId === null) return;
  const selector = `[data-direction="in"][data-state="sent"][data-conversation="${state.conversationId}"]`;
  for (const li of ui.list.querySelectorAll(selector)) {
    if (Number(li.dataset.sequence) <= state.agentReadSeq) stateSet(li, "seen");
  }
}

// Placed after message `afterSequence` of its chat (by default after every message).
export function notice(text, afterSequence = Number.MAX_SAFE_INTEGER) {
  const li = document.createElement("li");
  li.className = "msg-notice";
  li.dataset.testid = "chat-notice";
  li.sortKey = [state.conversationId ?? 0, afterSequence];
  li.textContent = text;
  messagePlace(li);
}

// `text`: what the server said (the visitor ended it: `ended`), else the chat was resolved or closed.
export function resolvedShow(text = t("resolved")) {
  if (state.resolved) return;
  state.resolved = true;
  typingHide();
  endButtonUpdate();
  notice(text);
}

// "End chat" is there while a chat is going.
export function endButtonUpdate() {
  ui.end.hidden = state.conversationId === null || state.resolved;
  ui.end.disabled = false;
}

export function agentShow(name) {
  if (!name) return;
  ui.agent.dataset.agent = name;
  ui.agent.textContent = t("chatting_with", { name });
}

export function typingShow(name) {
  ui.typing.textContent = t("typing", { name: name || t("support") });
  ui.typing.hidden = false;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(typingHide, TYPING_SHOWN_MS);
}

export function typingHide() {
  clearTimeout(typingTimer);
  ui.typing.hidden = true;
}

// Outside business hours (conversations/widget_hours.py): the server's sentence saying when the
// team is back, and its email address; taken down when they are back.
const LONGEST_TIMER_MS = 2 ** 31 - 1;
export function hoursShow(hours) {
  clearTimeout(timers.hours);
  ui.hours.hidden = !hours;
  if (!hours) return;
  ui.hoursText.textContent = hours.text;
  ui.hoursEmail.textContent = hours.email_text;
  ui.hoursEmail.href = `mailto:${encodeURI(hours.email)}`;
  const wait = hours.back_at ? Date.parse(hours.back_at) - Date.now() : NaN;
  if (wait > 0 && wait < LONGEST_TIMER_MS) timers.hours = setTimeout(() => { ui.hours.hidden = true; }, wait);
}

export function emailFormUpdate() {
  const ask = state.anonymous && !state.hasEmail && !state.agentsOnline;
  if (ask) ui.emailForm.hidden = false;
  else if (ui.emailForm.dataset.state !== "saved") ui.emailForm.hidden = true;
}

export function emailSaved() {
  state.hasEmail = true;
  ui.emailForm.dataset.state = "saved";
  ui.emailForm.querySelector(".chat-email-row").hidden = true;
  ui.emailForm.querySelector("label").hidden = true;
  ui.emailNote.dataset.state = "saved";
  ui.emailNote.textContent = t("email_thanks", { email: ui.emailInput.value.trim() });
}
