// What the chat knows, shared by its modules (one object each, never reassigned).
//
// Messages are keyed by (conversation, sequence) and duplicates dropped; `lastSeq` is the
// highest sequence up to which everything visible has been shown, and every (re)connect asks
// for what came after it. Sequences have holes the widget never fills (internal notes take
// numbers too), so a hole only triggers a sync, and the `synced` frame says how far the server
// has looked.

export const embedded = window.parent !== window;

export const state = {
  token: "",
  wsPath: "/ws/chat/",
  anonymous: true,
  hasEmail: false,
  agentsOnline: true,
  conversationId: null,
  lastSeq: 0,
  agentReadSeq: 0,
  highestAgentSeq: 0,
  lastReadSent: 0,
  resolved: false,
  ready: false, // synced on the current socket: frames may be sent
  syncing: false,
  syncAgain: false,
  syncFor: null,
  syncMax: null,
  hostOpen: !embedded,
  unread: 0,
  holdOutboxUntil: 0,
  answeredSurveys: new Set(), // surveys rated on this page: a late `ready` does not ask again
};

export const shown = new Map(); // "conversation:sequence" -> <li>
export const pending = new Map(); // client_id -> {body, li}
export const outbox = []; // client ids not acknowledged yet, oldest first
// Client ids sent on this socket, waiting for their ack or error (answered in order).
export const inflight = [];

export const timers = { sync: null, syncWatchdog: null, typing: null, outbox: null, status: null, hours: null };

export function isVisible() {
  return document.visibilityState === "visible" && state.hostOpen;
}

export function tellHost(message) {
  if (embedded) window.parent.postMessage({ source: "supportdesk-widget", ...message }, "*");
}
