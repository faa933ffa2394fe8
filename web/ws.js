// One WebSocket per tab, opened at page load, kept alive with exponential backoff + jitter.
// Each (re)connection fetches a fresh short-lived ticket; after a reconnect the current batch is
// re-subscribed (the server replays its cells) and `onReconnect` lets the page re-read the snapshot.

export class LiveSocket {
  /**
   * @param {object} o
   * @param {string} o.url             websocketUrl from the config
   * @param {() => Promise<{ticket: string}>} o.getTicket
   * @param {(msg: {type: string, data: any}) => void} o.onMessage
   * @param {(state: "connecting"|"open"|"reconnecting") => void} [o.onState]
   * @param {() => void} [o.onReconnect]
   * @param {(...a: any[]) => void} [o.debug]
   */
  constructor({ url, getTicket, onMessage, onState, onReconnect, debug, baseDelay = 500, maxDelay = 30000 }) {
    this.url = url;
    this.getTicket = getTicket;
    this.onMessage = onMessage;
    this.onState = onState || (() => {});
    this.onReconnect = onReconnect || (() => {});
    this.debug = debug || (() => {});
    this.baseDelay = baseDelay;
    this.maxDelay = maxDelay;
    this.ws = null;
    this.batchId = null;
    this.attempt = 0;
    this.timer = null;
    this.connecting = false;
    this.everOpened = false;
    this.started = false;
  }

  start() {
    if (this.started) return;
    this.started = true;
    window.addEventListener("online", () => this.kick());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.kick();
    });
    this.connect();
  }

  get isOpen() {
    return !!this.ws && this.ws.readyState === WebSocket.OPEN;
  }

  /** Follow a batch: subscribe now if connected, and again after every reconnect. */
  subscribe(batchId) {
    this.batchId = batchId;
    this.sendSubscribe();
  }

  sendSubscribe() {
    if (!this.batchId || !this.isOpen) return;
    this.debug(`subscribe ${this.batchId}`);
    this.ws.send(JSON.stringify({ action: "subscribe", batchId: this.batchId }));
  }

  /** Reconnect now instead of waiting for the backoff timer (network came back, tab visible). */
  kick() {
    if (this.ws || this.connecting) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.connect();
  }

  async connect() {
    if (this.connecting) return;
    this.connecting = true;
    this.onState(this.everOpened ? "reconnecting" : "connecting");
    let ticket;
    try {
      const answer = await this.getTicket();
      ticket = answer && answer.ticket;
      if (!ticket) throw new Error("no ticket");
    } catch {
      this.connecting = false;
      this.scheduleReconnect();
      return;
    }
    let ws;
    try {
      const sep = this.url.includes("?") ? "&" : "?";
      ws = new WebSocket(`${this.url}${sep}ticket=${encodeURIComponent(ticket)}`);
    } catch {
      this.connecting = false;
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.connecting = false;
    ws.addEventListener("open", () => {
      if (this.ws !== ws) return;
      const reconnected = this.everOpened;
      this.everOpened = true;
      this.attempt = 0;
      this.debug(reconnected ? "socket reconnected" : "socket open");
      this.onState("open");
      this.sendSubscribe();
      if (reconnected) this.onReconnect();
    });
    ws.addEventListener("message", (ev) => {
      if (this.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === "string") this.onMessage(msg);
    });
    ws.addEventListener("close", (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.debug(`socket closed (${ev.code})`);
      this.onState("reconnecting");
      this.scheduleReconnect();
    });
    // "error" is always followed by "close", which does the work.
  }

  scheduleReconnect() {
    if (this.timer) return;
    const ceiling = Math.min(this.maxDelay, this.baseDelay * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2); // "equal jitter"
    this.attempt = Math.min(this.attempt + 1, 16);
    this.debug(`reconnect in ${Math.round(delay)} ms`);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }
}
