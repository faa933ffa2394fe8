// What the page knows about one batch, apart from any I/O (the page's counterpart of
// marketplace_cli/watch.py's WatchState): built from the POST /batch answer or a GET snapshot,
// then fed live events. No DOM, no fetch, no globals; tests/web/batch_state.test.mjs runs it in node.
//
// A cell's status only moves forward, queued → processing → completed | failed | canceled, and a
// terminal cell never changes status again, so duplicate, late or out-of-order reports change
// nothing.
// STATUS_RANK below is the one place in the page where that order is written down (the backend's
// and the CLI's is layers/shared/marketplace/statuses.py; keep the two in step).

/** Forward order of a cell's status; the terminal statuses share the last rank. */
export const STATUS_RANK = Object.freeze({ queued: 0, processing: 1, completed: 2, failed: 2, canceled: 2 });
export const STATUSES = Object.freeze(Object.keys(STATUS_RANK));
/** The statuses by name, so no other module spells them. */
export const STATUS = Object.freeze(Object.fromEntries(STATUSES.map((name) => [name.toUpperCase(), name])));

const LAST_RANK = Math.max(...Object.values(STATUS_RANK));

/** A status the page knows, else "queued" (an unknown or missing status never counts as progress). */
export function normalStatus(status) {
  return typeof status === "string" && Object.hasOwn(STATUS_RANK, status) ? status : STATUS.QUEUED;
}

/** completed, failed or canceled: the cell is done and never changes status again. */
export function isTerminal(status) {
  return Object.hasOwn(STATUS_RANK, status) && STATUS_RANK[status] === LAST_RANK;
}

/** Whether a cell in status `from` may take status `to` (the same status is not a move back). */
export function canMove(from, to) {
  return !isTerminal(from) && STATUS_RANK[normalStatus(to)] >= STATUS_RANK[normalStatus(from)];
}

export const cellKey = (angleKey, colorKey) => `${angleKey}|${colorKey || ""}`;
export const assetIdOf = (batchId, angleKey, colorKey) => `${batchId}.${angleKey}.${colorKey || "angle"}`;

export const JOB_UPDATED = "marketplaceJobUpdated";
export const BATCH_CREATED = "marketplaceBatchCreated";
export const BATCH_COMPLETED = "marketplaceBatchCompleted";

const ANGLE_FAILED = "Not generated: the angle shot failed.";

export class BatchState {
  /**
   * Cells are `{type, angleKey, colorKey, status, imageUrl, thumbUrl, error, synthetic}` keyed by
   * cellKey(); `synthetic` marks a placeholder the page drew before the server reported the cell.
   */
  constructor({ batchId, angles = [], colors = [], autoColorize = true, status = "running", totalJobs = 0 }) {
    this.batchId = batchId;
    this.angles = [...angles];
    this.colors = [...colors];
    this.autoColorize = autoColorize !== false;
    this.status = status;
    this.totalJobs = totalJobs;
    this.cells = new Map();
    this.serverCompleted = status === "completed";
    this.sawRunning = false; // an open cell was seen here: the completion is news worth announcing
  }

  /** The batch this page just created: the 202 answer of POST /batch and the body it was sent. */
  static fromCreate(res, body) {
    const batch = new BatchState({
      batchId: res.batchId,
      angles: body.angles,
      colors: body.colors,
      autoColorize: body.autoColorize,
      totalJobs: res.totalJobs || 0,
    });
    for (const c of res.cells || []) batch.mergeCell(c);
    batch.ensurePlaceholders();
    batch.sawRunning = true;
    return batch;
  }

  /** A batch restored from GET /batch/{id} (`?batch=` on load). */
  static fromSnapshot(batchId, snap) {
    const batch = new BatchState({ batchId: snap.batchId || batchId, status: snap.status || "running" });
    batch.applySnapshot(snap);
    return batch;
  }

  /** Merge one cell report, forward only; true when anything the page shows changed. */
  mergeCell(r, { synthetic = false } = {}) {
    if (!r || !r.angleKey) return false;
    const colorKey = r.colorKey || null;
    const key = cellKey(r.angleKey, colorKey);
    const cur = this.cells.get(key);
    const status = normalStatus(r.status);
    if (cur && !synthetic) cur.synthetic = false; // the server knows this cell
    if (cur) {
      if (!canMove(cur.status, status)) {
        let changed = false; // a terminal cell can still learn a URL it was missing
        if (status === cur.status && r.imageUrl && !cur.imageUrl) (cur.imageUrl = r.imageUrl), (changed = true);
        if (status === cur.status && r.thumbUrl && !cur.thumbUrl) (cur.thumbUrl = r.thumbUrl), (changed = true);
        return changed;
      }
      const same =
        cur.status === status &&
        (r.imageUrl || null) === cur.imageUrl &&
        (r.thumbUrl || null) === cur.thumbUrl &&
        (r.error || null) === cur.error;
      if (same) return false;
    }
    this.cells.set(key, {
      type: r.type || (colorKey ? "color" : "angle"),
      angleKey: r.angleKey,
      colorKey,
      status,
      imageUrl: r.imageUrl || cur?.imageUrl || null,
      thumbUrl: r.thumbUrl || cur?.thumbUrl || null,
      error: r.error || null,
      synthetic: cur ? cur.synthetic : synthetic,
    });
    if (!isTerminal(status)) this.sawRunning = true;
    if (!colorKey && status === "failed") {
      // the colours of a failed angle are never made: fail the placeholders the page drew for them
      for (const c of this.cells.values()) {
        if (c.synthetic && c.angleKey === r.angleKey && c.colorKey && !isTerminal(c.status)) {
          c.status = "failed";
          c.error = ANGLE_FAILED;
        }
      }
    }
    return true;
  }

  /** With auto-colorize every angle × colour cell exists from the start: show it before we hear of it. */
  ensurePlaceholders() {
    if (!this.autoColorize) return;
    for (const a of this.angles) {
      if (!this.cells.has(cellKey(a, null))) {
        this.mergeCell({ type: "angle", angleKey: a, colorKey: null, status: "queued" }, { synthetic: true });
      }
      for (const c of this.colors) {
        if (!this.cells.has(cellKey(a, c))) {
          this.mergeCell({ type: "color", angleKey: a, colorKey: c, status: "queued" }, { synthetic: true });
        }
      }
    }
  }

  /** GET /batch/{id}: order, totals and every cell, merged forward only. */
  applySnapshot(snap) {
    if (Array.isArray(snap.angles)) this.angles = [...new Set([...snap.angles, ...this.angles])];
    if (Array.isArray(snap.colors)) this.colors = [...new Set([...snap.colors, ...this.colors])];
    if (typeof snap.autoColorize === "boolean") this.autoColorize = snap.autoColorize;
    if (typeof snap.totalJobs === "number") this.totalJobs = snap.totalJobs;
    for (const c of snap.cells || []) this.mergeCell(c);
    this.ensurePlaceholders();
    if (snap.status) this.status = snap.status;
    if (snap.status === "completed") this.markServerCompleted();
  }

  /** The server says the batch is done: placeholders it never reported were never made. */
  markServerCompleted() {
    this.serverCompleted = true;
    for (const [key, c] of this.cells) {
      if (c.synthetic && !isTerminal(c.status)) this.cells.delete(key);
    }
  }

  /**
   * One WebSocket message `{type, data}`. `changed`: the view needs drawing again; `catchUp`: the
   * batch completed while a cell the server reported is still open here, so re-read the snapshot.
   * Messages of other batches change nothing.
   */
  applyMessage(msg) {
    const data = (msg && msg.data) || {};
    if (data.batchId !== this.batchId) return { changed: false, catchUp: false };
    switch (msg.type) {
      case BATCH_CREATED:
        if (typeof data.totalJobs === "number") this.totalJobs = data.totalJobs;
        return { changed: false, catchUp: false };
      case JOB_UPDATED:
        return { changed: this.mergeCell(data.result || {}), catchUp: false };
      case BATCH_COMPLETED: {
        this.status = "completed";
        const open = [...this.cells.values()].some((c) => !c.synthetic && !isTerminal(c.status));
        if (!open) this.markServerCompleted();
        return { changed: true, catchUp: open };
      }
      default:
        return { changed: false, catchUp: false };
    }
  }

  /** POST .../colorize was accepted: its cells are queued and the batch runs again. */
  colorizeQueued(angleKey, colors) {
    for (const c of colors) {
      if (!this.colors.includes(c)) this.colors.push(c);
      this.mergeCell({ type: "color", angleKey, colorKey: c, status: "queued" });
    }
    this.status = "running";
    this.serverCompleted = false;
    this.sawRunning = true;
  }

  /** The colours of `selected` (in that order) this angle has no cell for yet. */
  missingColors(angleKey, selected) {
    return selected.filter((c) => !this.cells.has(cellKey(angleKey, c)));
  }

  counts() {
    let completed = 0;
    let failed = 0;
    let processing = 0;
    let active = 0;
    for (const c of this.cells.values()) {
      if (c.status === "completed") completed += 1;
      else if (c.status === "failed") failed += 1;
      else {
        active += 1;
        if (c.status === "processing") processing += 1;
      }
    }
    return { completed, failed, processing, active, total: this.cells.size };
  }

  /** counts() plus `done` (terminal cells), `percent` and `complete` (every cell terminal). */
  progress() {
    const c = this.counts();
    const done = c.completed + c.failed;
    return { ...c, done, percent: c.total ? (100 * done) / c.total : 0, complete: c.total > 0 && c.active === 0 };
  }
}
