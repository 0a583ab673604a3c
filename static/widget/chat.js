// The customer's side of the chat, running in the widget's iframe (templates/widget/frame.html).
//
// Protocol (conversations/consumers.py, VisitorConsumer): POST /widget/session for a session
// token, then a websocket at ws_path?token=...; frames in: ready, synced, chat.message, ack,
// chat.typing, chat.read, chat.status, chat.agent, email_saved, error.
//
// Nothing is lost or shown twice across drops, server restarts and Redis restarts: messages are
// keyed by (conversation, sequence) and duplicates dropped; `lastSeq` is the highest sequence up to
// which everything visible has been shown, and every (re)connect asks for what came after it.
// Sequences have holes the widget never fills (internal notes take numbers too), so a hole only
// triggers a sync, and the `synced` frame says how far the server has looked.
//
// Message data is only ever put in the page with textContent.

const root = document.getElementById("chat");
const byTestId = (id) => root.querySelector(`[data-testid="${id}"]`);
const ui = {
  agent: byTestId("chat-agent"),
  close: byTestId("chat-close"),
  status: byTestId("status-line"),
  list: byTestId("message-list"),
  typing: byTestId("typing-indicator"),
  emailForm: byTestId("email-form"),
  emailInput: byTestId("email-input"),
  emailNote: byTestId("email-note"),
  composerForm: byTestId("composer-form"),
  composer: byTestId("composer"),
  send: byTestId("send-button"),
};

const SESSION_URL = root.dataset.sessionUrl;
const MESSAGE_MAX_CHARS = Number(root.dataset.messageMaxChars) || 4000;
const SESSION_KEY = "supportdesk.widget.session";
const BACKOFF_FIRST_MS = 1000;
const BACKOFF_MAX_MS = 15000;
const TYPING_EVERY_MS = 2000;
const TYPING_SHOWN_MS = 5000;
const SYNC_ANSWER_MS = 10000; // a sync unanswered this long means a dead socket
const QUIET_RESYNC_MS = 60000; // belt and braces for a socket whose group membership was lost
const embedded = window.parent !== window;

const state = {
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
};
const shown = new Map(); // "conversation:sequence" -> <li>
const pending = new Map(); // client_id -> {body, li}
const outbox = []; // client ids not acknowledged yet, oldest first
let inflight = []; // client ids sent on this socket, waiting for their ack or error (answered in order)

let socket = null;
let attempt = 0;
let reconnectTimer = null;
let syncTimer = null;
let syncWatchdog = null;
let typingTimer = null;
let outboxTimer = null;
let lastTypingSent = 0;
let statusTimer = null;

// --- small helpers ----------------------------------------------------------------------------

function storageGet(key) {
  try { return localStorage.getItem(key) || ""; } catch { return ""; } // storage may be off in iframes
}
function storageSet(key, value) {
  try { localStorage.setItem(key, value); } catch { /* the session then lasts as long as the page */ }
}
function storageRemove(key) {
  try { localStorage.removeItem(key); } catch { /* nothing stored */ }
}

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function backoffMs() {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  attempt += 1;
  return Math.round(base * (0.75 + Math.random() * 0.5)); // jitter: a restarted server is not hit at once
}

function setStatus(text, kind = "info") {
  clearTimeout(statusTimer);
  ui.status.textContent = text;
  ui.status.dataset.state = kind;
}

// An error shows for a while, then the line says how the connection is again.
function showError(text) {
  setStatus(text, "error");
  statusTimer = setTimeout(connectionStatus, 8000);
}

function connectionStatus() {
  if (state.ready) {
    setStatus(state.agentsOnline ? "Connected" : "Connected · no agent is online right now", "online");
  }
}

function tellHost(message) {
  if (embedded) window.parent.postMessage({ source: "supportdesk-widget", ...message }, "*");
}

function isVisible() {
  return document.visibilityState === "visible" && state.hostOpen;
}

// --- the session -------------------------------------------------------------------------------

function identityFromFragment() {
  // The host's identity token comes in the fragment, which never reaches a server's logs.
  return new URLSearchParams(location.hash.slice(1)).get("identity") || "";
}

async function postSession(body) {
  const response = await fetch(SESSION_URL, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
    credentials: "omit",
  });
  let data = null;
  try { data = await response.json(); } catch { /* not JSON: a proxy's error page */ }
  return { status: response.status, data, retryAfter: Number(response.headers.get("Retry-After")) || 0 };
}

async function sessionStart() {
  let identity = identityFromFragment();
  for (;;) {
    // A signed-in visitor's session is not kept: after they sign out of the host site, the next
    // visitor on the same computer must not continue their chat.
    const stored = identity ? "" : storageGet(SESSION_KEY);
    let answer;
    try {
      answer = await postSession(identity ? { identity } : stored ? { session: stored } : {});
    } catch {
      const wait = backoffMs();
      setStatus(`Cannot reach support; trying again in ${Math.ceil(wait / 1000)} s…`, "offline");
      await delay(wait);
      continue;
    }
    if (answer.status === 200 && answer.data && answer.data.session) {
      sessionApply(answer.data);
      return;
    }
    const error = (answer.data && answer.data.error) || {};
    if (answer.status === 401 && identity) {
      identity = "";
      showError("The site's sign-in could not be checked; you are chatting as a guest. Reload the page to retry.");
      continue;
    }
    if (answer.status === 401 && stored) {
      storageRemove(SESSION_KEY); // expired or from another desk: start afresh
      continue;
    }
    const wait = answer.status === 429 && answer.retryAfter ? answer.retryAfter * 1000 : backoffMs();
    setStatus(`${error.message || "Support could not start the chat."} Trying again in ${Math.ceil(wait / 1000)} s…`,
      "error");
    await delay(wait);
  }
}

function sessionApply(data) {
  state.token = data.session;
  state.wsPath = data.ws_path || "/ws/chat/";
  state.anonymous = Boolean(data.anonymous);
  state.hasEmail = Boolean(data.has_email);
  state.agentsOnline = Boolean(data.agents_online);
  if (state.anonymous) storageSet(SESSION_KEY, data.session);
  if (data.name && !ui.agent.dataset.agent) {
    ui.agent.textContent = `Hi ${data.name}! We usually answer within minutes.`;
  }
  emailFormUpdate();
}

// --- the socket ------------------------------------------------------------------------------------

function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  const url = new URL(state.wsPath, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", state.token);
  setStatus("Connecting…", "connecting");
  const ws = new WebSocket(url);
  socket = ws;
  let closeReason = null; // the error frame the server sent before closing, if any
  ws.addEventListener("message", (event) => {
    if (ws !== socket) return;
    let frame;
    try { frame = JSON.parse(event.data); } catch { return; }
    if (frame.type === "error" && !frame.in_reply_to) closeReason = frame;
    receive(frame);
  });
  ws.addEventListener("close", (event) => {
    if (ws !== socket) return;
    socketLost(event.code, closeReason);
  });
}

function socketLost(code, reason) {
  socket = null;
  state.ready = false;
  state.syncing = false;
  inflight = []; // unacknowledged messages stay in the outbox and go again, with the same client_id
  clearTimeout(syncWatchdog);
  markOutboxSending();
  if (code === 4401) {
    // The session is no longer valid: a new one, then a new socket.
    storageRemove(SESSION_KEY);
    state.token = "";
  }
  let wait = backoffMs();
  if (reason && reason.code === "rate_limited" && reason.retry_after) {
    wait = Math.max(wait, reason.retry_after * 1000);
  }
  setStatus(`Offline; reconnecting in ${Math.ceil(wait / 1000)} s…`, "offline");
  reconnectTimer = setTimeout(reconnect, wait);
}

// Drop a socket that stopped answering without waiting for the browser to notice.
function socketDrop() {
  const ws = socket;
  if (!ws) return;
  socketLost(1006, null);
  try { ws.close(); } catch { /* already closing */ }
}

async function reconnect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = null;
  if (socket) return;
  if (!state.token) await sessionStart();
  if (!socket) connect();
}

function send(frame) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(frame));
  return true;
}

// --- frames from the server -------------------------------------------------------------------

function receive(frame) {
  switch (frame.type) {
    case "ready":
      attempt = 0;
      stateApply(frame);
      sync();
      break;
    case "synced":
      syncedApply(frame);
      break;
    case "chat.message":
      messageReceive(frame);
      break;
    case "ack":
      ackReceive(frame);
      break;
    case "chat.typing":
      if (frame.side === "agent" && frame.conversation_id === state.conversationId) typingShow(frame.name);
      break;
    case "chat.read":
      if (frame.side === "agent" && frame.conversation_id === state.conversationId) {
        state.agentReadSeq = Math.max(state.agentReadSeq, frame.sequence || 0);
        seenRefresh();
      }
      break;
    case "chat.status":
      if (frame.conversation_id === state.conversationId
          && (frame.status === "resolved" || frame.status === "closed")) {
        resolvedShow();
      }
      break;
    case "chat.agent":
      if (frame.conversation_id === state.conversationId) agentShow(frame.agent);
      break;
    case "chat.notice": // a system notice, in the visitor's language (conversations/waiting.py)
      if (frame.conversation_id === state.conversationId) notice(frame.text, frame.after_sequence + 0.5);
      break;
    case "email_saved":
      emailSaved();
      break;
    case "error":
      errorReceive(frame);
      break;
    default:
      break; // a frame type from a newer server: nothing to do with it
  }
}

// `ready` and `synced` carry the visitor's current chat and whether any agent is online.
function stateApply(frame) {
  state.agentsOnline = Boolean(frame.agents_online);
  emailFormUpdate();
  const chat = frame.conversation;
  if (!chat) {
    if (state.conversationId !== null && !state.resolved) resolvedShow(); // it ended while we were away
    return;
  }
  conversationAdopt(chat.id);
  if (chat.id !== state.conversationId) return;
  if (chat.agent) agentShow(chat.agent);
  state.agentReadSeq = Math.max(state.agentReadSeq, chat.agent_read_sequence || 0);
  seenRefresh();
}

// True when the event belongs to the chat shown now (a newer chat replaces an older one).
function conversationAdopt(conversationId) {
  if (conversationId === state.conversationId) return true;
  if (state.conversationId !== null && conversationId < state.conversationId) return false; // a late event
  state.conversationId = conversationId;
  state.lastSeq = 0;
  state.agentReadSeq = 0;
  state.highestAgentSeq = 0;
  state.lastReadSent = 0;
  state.resolved = false;
  return true;
}

function sync() {
  clearTimeout(syncTimer);
  syncTimer = null;
  if (state.syncing) {
    state.syncAgain = true;
    return;
  }
  state.syncing = true;
  state.syncFor = state.conversationId;
  state.syncMax = null;
  if (send({ type: "sync", after: state.lastSeq })) {
    clearTimeout(syncWatchdog);
    syncWatchdog = setTimeout(socketDrop, SYNC_ANSWER_MS);
  } else {
    state.syncing = false;
  }
}

// A hole in the sequence: usually an internal note, sometimes a lost push. Ask, but not at once,
// so a burst of messages costs one sync.
function syncSoon() {
  if (!syncTimer) syncTimer = setTimeout(sync, 300);
}

function syncedApply(frame) {
  clearTimeout(syncWatchdog);
  state.syncing = false;
  const chat = frame.conversation;
  const changed = (chat ? chat.id : null) !== state.syncFor;
  stateApply(frame);
  if (chat && chat.id === state.conversationId) {
    if (changed) {
      state.lastSeq = 0; // a new chat began meanwhile: the sync looked at it from our old mark
      state.syncAgain = true;
    } else if (state.syncMax === null) {
      state.lastSeq = Math.max(state.lastSeq, chat.last_sequence || 0); // nothing visible was missing
    } else {
      state.lastSeq = Math.max(state.lastSeq, state.syncMax);
      // The server sends a bounded page: look again until a sync comes back empty.
      if (state.lastSeq < (chat.last_sequence || 0)) state.syncAgain = true;
    }
  }
  const first = !state.ready;
  state.ready = true;
  if (first) connectionStatus();
  outboxFlush();
  readMark();
  if (state.syncAgain) {
    state.syncAgain = false;
    sync();
  }
}

function advance(sequence) {
  if (sequence <= state.lastSeq) return;
  if (sequence === state.lastSeq + 1) state.lastSeq = sequence;
  else if (!state.syncing) syncSoon();
}

function messageReceive(message) {
  if (!conversationAdopt(message.conversation_id)) return;
  if (state.syncing) state.syncMax = Math.max(state.syncMax || 0, message.sequence);
  const key = `${message.conversation_id}:${message.sequence}`;
  if (!shown.has(key)) {
    const mine = message.direction === "in" && message.client_id && pending.get(message.client_id);
    if (mine) {
      sentMark(message.client_id, message.conversation_id, message.sequence);
    } else {
      const li = messageRender(message);
      shown.set(key, li);
      messagePlace(li);
    }
    if (message.direction === "out") {
      typingHide();
      state.highestAgentSeq = Math.max(state.highestAgentSeq, message.sequence);
      if (!isVisible() && message.sequence > state.lastReadSent) {
        state.unread += 1;
        tellHost({ type: "unread", count: state.unread });
      }
    }
  }
  advance(message.sequence);
  readMark();
}

function ackReceive(ack) {
  inflight = inflight.filter((clientId) => clientId !== ack.client_id);
  conversationAdopt(ack.conversation_id);
  if (pending.has(ack.client_id)) sentMark(ack.client_id, ack.conversation_id, ack.sequence);
  if (ack.conversation_id === state.conversationId) advance(ack.sequence);
}

const RETRYABLE = new Set(["rate_limited", "server_error"]);

function errorReceive(error) {
  const text = error.message || "Something went wrong.";
  if (error.in_reply_to === "message" || (error.code === "too_large" && inflight.length)) {
    // Frames are answered in order, so this error is the oldest message still in flight.
    const clientId = inflight.shift();
    if (clientId && pending.has(clientId)) {
      if (RETRYABLE.has(error.code)) {
        const wait = error.retry_after || Number((text.match(/([\d.]+) seconds?/) || [])[1]) || 3;
        state.holdOutboxUntil = Date.now() + wait * 1000;
        clearTimeout(outboxTimer);
        outboxTimer = setTimeout(outboxFlush, wait * 1000);
        showError(error.code === "rate_limited"
          ? `You are sending messages quickly; yours will go in ${Math.ceil(wait)} s.` : text);
      } else {
        failedMark(clientId, text);
      }
    }
    return;
  }
  if (error.in_reply_to === "email") {
    ui.emailNote.textContent = text;
    ui.emailNote.dataset.state = "error";
    return;
  }
  if (error.in_reply_to === "sync") {
    clearTimeout(syncWatchdog);
    state.syncing = false;
    setTimeout(sync, (error.retry_after || 3) * 1000);
  }
  if (error.in_reply_to === "typing" || error.in_reply_to === "read") return; // nothing the visitor must do
  if (error.code === "rate_limited") {
    showError(error.retry_after ? `Too many attempts; wait ${Math.ceil(error.retry_after)} s.` : text);
  } else if (error.code === "token_invalid") {
    setStatus(text, "error");
  } else {
    showError(text);
  }
}

// --- rendering ------------------------------------------------------------------------------------

const STATE_TEXT = { sending: "Sending…", sent: "Sent", seen: "Seen", failed: "Not sent" };

function timeText(iso) {
  const date = iso ? new Date(iso) : new Date();
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function messageElement({ direction, body, author, createdAt }) {
  const li = document.createElement("li");
  li.className = `msg msg-${direction === "in" ? "mine" : "theirs"}`;
  li.dataset.testid = "message";
  li.dataset.direction = direction;
  if (direction !== "in") {
    const who = document.createElement("span");
    who.className = "msg-author";
    who.textContent = author || "Support";
    li.append(who);
  }
  const text = document.createElement("p");
  text.className = "msg-body";
  text.textContent = body;
  const meta = document.createElement("span");
  meta.className = "msg-meta";
  const time = document.createElement("time");
  time.textContent = timeText(createdAt);
  const delivery = document.createElement("span");
  delivery.className = "msg-state";
  meta.append(time, delivery);
  li.append(text, meta);
  return li;
}

function messageRender(message) {
  const li = messageElement({ direction: message.direction, body: message.body, author: message.author,
    createdAt: message.created_at });
  li.dataset.conversation = String(message.conversation_id);
  li.dataset.sequence = String(message.sequence);
  li.sortKey = [message.conversation_id, message.sequence];
  if (message.direction === "in") stateSet(li, message.sequence <= state.agentReadSeq ? "seen" : "sent");
  else li.dataset.state = "received";
  return li;
}

function stateSet(li, deliveryState, note = "") {
  li.dataset.state = deliveryState;
  const delivery = li.querySelector(".msg-state");
  if (delivery) delivery.textContent = note ? `${STATE_TEXT[deliveryState]}: ${note}` : STATE_TEXT[deliveryState];
}

// Messages stand in (conversation, sequence) order, kept on each <li> as `sortKey`; those still
// sending have none and come after them all.
function messagePlace(li) {
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

function sentMark(clientId, conversationId, sequence) {
  const item = pending.get(clientId);
  pending.delete(clientId);
  const index = outbox.indexOf(clientId);
  if (index >= 0) outbox.splice(index, 1);
  const li = item.li;
  li.dataset.conversation = String(conversationId);
  li.dataset.sequence = String(sequence);
  li.sortKey = [conversationId, sequence];
  shown.set(`${conversationId}:${sequence}`, li);
  stateSet(li, conversationId === state.conversationId && sequence <= state.agentReadSeq ? "seen" : "sent");
  li.remove();
  messagePlace(li);
}

function failedMark(clientId, reason) {
  const item = pending.get(clientId);
  pending.delete(clientId);
  const index = outbox.indexOf(clientId);
  if (index >= 0) outbox.splice(index, 1);
  stateSet(item.li, "failed", reason);
  // It stays where it was written, instead of below every reply that comes after it.
  const previous = item.li.previousElementSibling;
  item.li.sortKey = previous && previous.sortKey ? [previous.sortKey[0], previous.sortKey[1] + 0.5]
    : [state.conversationId ?? 0, 0.5];
}

function markOutboxSending() {
  for (const clientId of outbox) stateSet(pending.get(clientId).li, "sending");
}

function seenRefresh() {
  if (state.conversationId === null) return;
  const selector = `[data-direction="in"][data-state="sent"][data-conversation="${state.conversationId}"]`;
  for (const li of ui.list.querySelectorAll(selector)) {
    if (Number(li.dataset.sequence) <= state.agentReadSeq) stateSet(li, "seen");
  }
}

function notice(text, afterSequence = Number.MAX_SAFE_INTEGER) { // default: after every message of its chat
  const li = document.createElement("li");
  li.className = "msg-notice";
  li.dataset.testid = "chat-notice";
  li.sortKey = [state.conversationId ?? 0, afterSequence];
  li.textContent = text;
  messagePlace(li);
}

function resolvedShow() {
  if (state.resolved) return;
  state.resolved = true;
  typingHide();
  notice("This chat has been resolved. Write again to start a new one.");
}

function agentShow(name) {
  if (!name) return;
  ui.agent.dataset.agent = name;
  ui.agent.textContent = `You are chatting with ${name}`;
}

function typingShow(name) {
  ui.typing.textContent = `${name || "Support"} is typing…`;
  ui.typing.hidden = false;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(typingHide, TYPING_SHOWN_MS);
}

function typingHide() {
  clearTimeout(typingTimer);
  ui.typing.hidden = true;
}

// --- what the visitor does ------------------------------------------------------------------------

function outboxFlush() {
  if (!state.ready) return;
  const wait = state.holdOutboxUntil - Date.now();
  if (wait > 0) {
    clearTimeout(outboxTimer);
    outboxTimer = setTimeout(outboxFlush, wait);
    return;
  }
  for (const clientId of outbox) {
    if (inflight.includes(clientId)) continue;
    if (!send({ type: "message", body: pending.get(clientId).body, client_id: clientId })) return;
    inflight.push(clientId);
  }
}

function messageSend(body) {
  const clientId = newClientId();
  const li = messageElement({ direction: "in", body, createdAt: null });
  li.dataset.clientId = clientId;
  stateSet(li, "sending");
  pending.set(clientId, { body, li });
  outbox.push(clientId);
  ui.list.append(li);
  ui.list.scrollTop = ui.list.scrollHeight;
  outboxFlush();
}

function readMark() {
  if (!isVisible() || !state.ready || state.conversationId === null) return;
  if (state.highestAgentSeq > state.lastReadSent) {
    if (send({ type: "read", sequence: state.highestAgentSeq })) state.lastReadSent = state.highestAgentSeq;
  }
  if (state.unread) {
    state.unread = 0;
    tellHost({ type: "unread", count: 0 });
  }
}

function emailFormUpdate() {
  const ask = state.anonymous && !state.hasEmail && !state.agentsOnline;
  if (ask) ui.emailForm.hidden = false;
  else if (ui.emailForm.dataset.state !== "saved") ui.emailForm.hidden = true;
}

function emailSaved() {
  state.hasEmail = true;
  ui.emailForm.dataset.state = "saved";
  ui.emailForm.querySelector(".chat-email-row").hidden = true;
  ui.emailForm.querySelector("label").hidden = true;
  ui.emailNote.dataset.state = "saved";
  ui.emailNote.textContent = `Thanks! We will answer at ${ui.emailInput.value.trim()}.`;
}

ui.emailForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const email = ui.emailInput.value.trim();
  if (!email || !ui.emailInput.checkValidity()) {
    ui.emailNote.dataset.state = "error";
    ui.emailNote.textContent = "Enter an email address, e.g. you@example.com.";
    return;
  }
  ui.emailNote.dataset.state = "";
  ui.emailNote.textContent = state.ready && send({ type: "email", email }) ? "Saving…"
    : "Not connected yet; try again in a moment.";
});

ui.composerForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const body = ui.composer.value;
  if (!body.trim()) return;
  if ([...body].length > MESSAGE_MAX_CHARS) {
    showError(`A message may have at most ${MESSAGE_MAX_CHARS} characters.`);
    return;
  }
  ui.composer.value = "";
  messageSend(body);
  ui.composer.focus();
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
    if (send({ type: "typing" })) lastTypingSent = now;
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

window.addEventListener("online", () => {
  if (!socket) reconnect(); // no need to sit out the backoff
});
window.addEventListener("offline", socketDrop);

if (embedded) {
  ui.close.hidden = false;
  ui.close.addEventListener("click", () => tellHost({ type: "close" }));
}

setInterval(() => {
  if (state.ready && state.conversationId !== null && isVisible()) sync();
}, QUIET_RESYNC_MS);

tellHost({ type: "ready" });
sessionStart().then(connect);
