// The safety net under the WebSocket: while a batch runs and live updates are not arriving (the
// socket is blocked, closed or silent), the snapshot is read every few seconds so the matrix still
// finishes. Timers are injected, so tests/web/live_poll.test.mjs drives it in node.

export const POLL_OFFLINE_MS = 3000; // the socket is not open
export const POLL_QUIET_MS = 12000; // the socket is open but nothing came for this long

/** How long to wait before the next snapshot read, or null for none (the batch is not running). */
export function nextPollDelay({ running, socketOpen, msSinceLastMessage }) {
  if (!running) return null;
  if (!socketOpen) return POLL_OFFLINE_MS;
  return Math.max(POLL_QUIET_MS - (msSinceLastMessage ?? 0), POLL_OFFLINE_MS);
}

export class SnapshotPoller {
  /**
   * @param {object} o  state() -> {running, socketOpen, msSinceLastMessage}; poll() -> Promise
   *   (reads the snapshot); setTimer/clearTimer default to the window's
   */
  constructor({ state, poll, setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t) }) {
    Object.assign(this, { state, poll, setTimer, clearTimer });
    this.timer = null;
    this.inFlight = false;
  }

  /** Re-plan after anything that changes the state (a message, a socket state, a new batch). */
  schedule() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
    const delay = nextPollDelay(this.state());
    if (delay === null) return;
    this.timer = this.setTimer(() => this.fire(), delay);
  }

  async fire() {
    this.timer = null;
    const s = this.state();
    const due = s.running && (!s.socketOpen || (s.msSinceLastMessage ?? 0) >= POLL_QUIET_MS);
    if (due && !this.inFlight) {
      this.inFlight = true;
      try {
        await this.poll();
      } catch {
        /* the next round tries again */
      } finally {
        this.inFlight = false;
      }
    }
    this.schedule();
  }

  stop() {
    if (this.timer !== null) this.clearTimer(this.timer);
    this.timer = null;
  }
}
