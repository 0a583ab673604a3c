// What the visitor sends: each message waits in the outbox under a client id until the server
// acknowledges it, and goes again (same id, stored once) after a drop; and the read mark.

import { ClientFrame } from "../common/protocol.js";
import { send } from "./connection.js";
import { messageElement, messagePlace, stateSet } from "./render.js";
import { inflight, isVisible, outbox, pending, shown, state, tellHost, timers } from "./state.js";
import { ui } from "./ui.js";

export function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function outboxRemove(clientId) {
  const item = pending.get(clientId);
  pending.delete(clientId);
  const index = outbox.indexOf(clientId);
  if (index >= 0) outbox.splice(index, 1);
  return item;
}

export function outboxFlush() {
  if (!state.ready) return;
  const wait = state.holdOutboxUntil - Date.now();
  if (wait > 0) {
    clearTimeout(timers.outbox);
    timers.outbox = setTimeout(outboxFlush, wait);
    return;
  }
  for (const clientId of outbox) {
    if (inflight.includes(clientId)) continue;
    if (!send({ type: ClientFrame.MESSAGE, body: pending.get(clientId).body, client_id: clientId })) return;
    inflight.push(clientId);
  }
}

// `clientId`: the id an earlier attempt at the same message carried (the server stores it once).
export function messageSend(body, clientId = newClientId()) {
  const li = messageElement({ direction: "in", body, createdAt: null });
  li.dataset.clientId = clientId;
  stateSet(li, "sending");
  pending.set(clientId, { body, li });
  outbox.push(clientId);
  ui.list.append(li);
  ui.list.scrollTop = ui.list.scrollHeight;
  outboxFlush();
}

export function sentMark(clientId, conversationId, sequence) {
  const { li } = outboxRemove(clientId);
  li.dataset.conversation = String(conversationId);
  li.dataset.sequence = String(sequence);
  li.sortKey = [conversationId, sequence];
  shown.set(`${conversationId}:${sequence}`, li);
  stateSet(li, conversationId === state.conversationId && sequence <= state.agentReadSeq ? "seen" : "sent");
  li.remove();
  messagePlace(li);
}

export function failedMark(clientId, reason) {
  const { li } = outboxRemove(clientId);
  stateSet(li, "failed", reason);
  // It stays where it was written, instead of below every reply that comes after it.
  const previous = li.previousElementSibling;
  li.sortKey = previous && previous.sortKey ? [previous.sortKey[0], previous.sortKey[1] + 0.5]
    : [state.conversationId ?? 0, 0.5];
}

export function markOutboxSending() {
  for (const clientId of outbox) stateSet(pending.get(clientId).li, "sending");
}

export function readMark() {
  if (!isVisible() || !state.ready || state.conversationId === null) return;
  if (state.highestAgentSeq > state.lastReadSent) {
    if (send({ type: ClientFrame.READ, sequence: state.highestAgentSeq })) state.lastReadSent = state.highestAgentSeq;
  }
  if (state.unread) {
    state.unread = 0;
    tellHost({ type: "unread", count: 0 });
  }
}
