// The chat's socket (conversations/consumers.py, VisitorConsumer): a session token first, then
// ws_path?token=...; it comes back by itself (static/common/reconnect.js), and every (re)connect
// syncs from `lastSeq`. A sync unanswered for long means a dead socket: it is dropped.

import { ClientFrame, CloseCode } from "../common/protocol.js";
import { ReconnectingSocket } from "../common/reconnect.js";
import { receive } from "./frames.js";
import { markOutboxSending } from "./outbox.js";
import { backoff, sessionForget, sessionStart } from "./session.js";
import { inflight, state, timers } from "./state.js";
import { setStatus } from "./ui.js";
import { t } from "./words.js";

const SYNC_ANSWER_MS = 10000;
let socket = null;

function socketUrl() {
  const url = new URL(state.wsPath, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("token", state.token);
  return url.toString();
}

function socketLost(code, reason) {
  state.ready = false;
  state.syncing = false;
  inflight.length = 0; // unacknowledged messages stay in the outbox and go again, with the same client_id
  clearTimeout(timers.syncWatchdog);
  markOutboxSending();
  if (code === CloseCode.NOT_SIGNED_IN) sessionForget(); // a new session, then a new socket
  const rateLimited = reason && reason.code === "rate_limited" && reason.retry_after;
  return { atLeastMs: rateLimited ? reason.retry_after * 1000 : 0 };
}

export function connectionStart() {
  socket = new ReconnectingSocket(socketUrl, {
    prepare: async () => {
      if (!state.token) await sessionStart();
    },
    onFrame: receive,
    onClose: socketLost,
    onState(socketState, { waitMs }) {
      if (socketState === "connecting") setStatus(t("connecting"), "connecting");
      else if (socketState === "closed") setStatus(t("offline_retry", { seconds: Math.ceil(waitMs / 1000) }), "offline");
    },
    backoff,
    resetOnOpen: false, // a connection counts once the server says `ready` (frames.js)
  });
  window.addEventListener("offline", socketDrop);
}

export function connectionCounts() {
  backoff.reset();
}

// Drop a socket that stopped answering without waiting for the browser to notice.
export function socketDrop() {
  if (socket) socket.drop();
}

export function send(frame) {
  return socket !== null && socket.send(frame);
}

export function sync() {
  clearTimeout(timers.sync);
  timers.sync = null;
  if (state.syncing) {
    state.syncAgain = true;
    return;
  }
  state.syncing = true;
  state.syncFor = state.conversationId;
  state.syncMax = null;
  if (send({ type: ClientFrame.SYNC, after: state.lastSeq })) {
    clearTimeout(timers.syncWatchdog);
    timers.syncWatchdog = setTimeout(socketDrop, SYNC_ANSWER_MS);
  } else {
    state.syncing = false;
  }
}

// A hole in the sequence: usually an internal note, sometimes a lost push. Ask, but not at once,
// so a burst of messages costs one sync.
export function syncSoon() {
  if (!timers.sync) timers.sync = setTimeout(sync, 300);
}
