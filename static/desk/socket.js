// A websocket that comes back: reconnects with exponential backoff (and jitter, so a
// restarted server is not hit by every desk at the same instant), at once when the
// browser says the network is back.

const MAX_DELAY_MS = 30000;

export class ReconnectingSocket {
  constructor(url, { onOpen = () => {}, onFrame = () => {}, onState = () => {} } = {}) {
    this.url = url;
    this.onOpen = onOpen;
    this.onFrame = onFrame;
    this.onState = onState;
    this.attempt = 0;
    this.timer = null;
    this.ws = null;
    window.addEventListener("online", () => this.reconnectNow());
    this.connect();
  }

  connect() {
    this.timer = null;
    this.onState("connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("open", () => {
      this.attempt = 0;
      this.onState("open");
      this.onOpen();
    });
    ws.addEventListener("message", (event) => {
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return; // the server only sends JSON; anything else is not ours to act on
      }
      if (frame && typeof frame === "object") this.onFrame(frame);
    });
    ws.addEventListener("close", () => {
      if (this.ws !== ws) return; // an older socket closing after a reconnectNow
      this.onState("closed");
      this.schedule();
    });
  }

  schedule() {
    if (this.timer) return;
    const base = Math.min(MAX_DELAY_MS, 500 * 2 ** this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), base / 2 + Math.random() * base / 2);
  }

  reconnectNow() {
    if (this.isOpen) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.attempt = 0;
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
