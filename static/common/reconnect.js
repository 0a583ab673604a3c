// The one way back for every websocket in the browser (the workspace, the live view and the
// chat widget): exponential backoff with jitter, so a restarted server is not hit by every
// page at the same instant, and at once when the browser says the network is back.

export class Backoff {
  constructor({ firstMs = 1000, maxMs = 30000 } = {}) {
    this.firstMs = firstMs;
    this.maxMs = maxMs;
    this.attempt = 0;
  }

  // The next wait: doubling up to maxMs, each drawn between half of it and all of it.
  next() {
    const base = Math.min(this.maxMs, this.firstMs * 2 ** this.attempt);
    this.attempt += 1;
    return Math.round(base * (0.5 + Math.random() / 2));
  }

  reset() {
    this.attempt = 0;
  }
}

// `url` is a string or a function (the widget's carries a session token that may change);
// `prepare` runs before each connection (the widget gets a session first);
// `onClose(code, errorFrame)` may answer {stop: true} (retrying cannot help) or {atLeastMs};
// `onState(state, detail)` hears "connecting", "open", "closed" ({waitMs}) and "stopped".
// With resetOnOpen false the caller says when a connection counts (backoff.reset()).
export class ReconnectingSocket {
  constructor(url, {
    onOpen = () => {}, onFrame = () => {}, onState = () => {}, onClose = () => ({}),
    prepare = async () => {}, backoff = new Backoff(), resetOnOpen = true,
  } = {}) {
    Object.assign(this, { url, onOpen, onFrame, onState, onClose, prepare, backoff, resetOnOpen });
    this.timer = null;
    this.ws = null;
    this.stopped = false;
    this.connecting = false;
    window.addEventListener("online", () => this.reconnectNow());
    this.connect();
  }

  async connect() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws || this.connecting || this.stopped) return;
    this.connecting = true;
    try {
      await this.prepare();
    } finally {
      this.connecting = false;
    }
    if (this.ws || this.stopped) return;
    this.onState("connecting", {});
    const ws = new WebSocket(typeof this.url === "function" ? this.url() : this.url);
    this.ws = ws;
    let closeReason = null; // the error frame the server sent before closing, if any
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      if (this.resetOnOpen) this.backoff.reset();
      this.onState("open", {});
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; anything else is not ours to act on
      }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "error" && !frame.in_reply_to) closeReason = frame;
      this.onFrame(frame);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return; // an older socket closing after a reconnectNow or a drop
      this.lost(event.code, closeReason);
    });
  }

  lost(code, reason) {
    this.ws = null;
    const verdict = this.onClose(code, reason) || {};
    if (verdict.stop) {
      this.stopped = true;
      this.onState("stopped", {});
      return;
    }
    const waitMs = Math.max(this.backoff.next(), verdict.atLeastMs || 0);
    this.onState("closed", { waitMs });
    this.timer = setTimeout(() => this.connect(), waitMs);
  }

  // A socket that stopped answering: lost now, without waiting for the browser to notice.
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.lost(1006, null);
    try { ws.close(); } catch { /* already closing */ }
  }

  reconnectNow() {
    if (this.isOpen || this.stopped || this.connecting) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.backoff.reset();
    const old = this.ws;
    this.ws = null;
    if (old) old.close();
    this.connect();
  }

  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
