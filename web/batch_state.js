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

/** The batch statuses of the backend (statuses.BatchStatus); every one but running is an outcome. */
export const BATCH_STATUS = Object.freeze({
  RUNNING: "running",
  COMPLETED: "completed",
  COMPLETED_WITH_FAILURES: "completed_with_failures",
  FAILED: "failed",
  CANCELED: "canceled",
});
const OUTCOMES = new Set(Object.values(BATCH_STATUS).filter((s) => s !== BATCH_STATUS.RUNNING));
export const isOutcome = (status) => OUTCOMES.has(status);

const attemptOf = (value, fallback) => (Number.isInteger(value) && value > 0 ? value : fallback);

const VERDICTS = new Set(["ok", "off", "unknown"]);
/** A cell's colour check `{target, measured, deltaE, verdict}` when it is well-formed, else null. */
export function colorCheckOf(check) {
  if (!check || typeof check !== "object" || !VERDICTS.has(check.verdict)) return null;
  const deltaE = typeof check.deltaE === "number" && Number.isFinite(check.deltaE) ? check.deltaE : null;
  return { target: check.target ?? null, measured: check.measured ?? null, deltaE, verdict: check.verdict };
}
const sameCheck = (a, b) => JSON.stringify(colorCheckOf(a)) === JSON.stringify(colorCheckOf(b) || null);

export class BatchState {
  /**
   * Cells are `{type, angleKey, colorKey, status, attempt, imageUrl, thumbUrl, error, colorCheck, synthetic}` keyed by
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
    this.serverCompleted = isOutcome(status);
    this.sawRunning = false; // an open cell was seen here: the completion is news worth announcing
    this.cost = null; // {predictions, billedImages, costUsd} from the snapshot
    this.estimate = null; // {images, costUsd} from the create answer
    this.sourceUrls = []; // the source photos, to show beside a result
    this.createdAt = null;
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
    batch.estimate = res.estimate || null;
    batch.sourceUrls = [...(body.sourceImageUrls || [])];
    return batch;
  }

  /** A batch restored from GET /batch/{id} (`?batch=` on load). */
  static fromSnapshot(batchId, snap) {
    const batch = new BatchState({ batchId: snap.batchId || batchId, status: snap.status || "running" });
    batch.applySnapshot(snap);
    return batch;
  }

  /**
   * Merge one cell report; true when anything the page shows changed. Within one attempt a cell
   * only moves forward; a report of a later attempt (a retry or a regenerate) starts the cell
   * over, and a report of an earlier attempt is stale and ignored.
   */
  mergeCell(r, { synthetic = false } = {}) {
    if (!r || !r.angleKey) return false;
    const colorKey = r.colorKey || null;
    const key = cellKey(r.angleKey, colorKey);
    const cur = this.cells.get(key);
    const status = normalStatus(r.status);
    const attempt = attemptOf(r.attempt, cur ? cur.attempt : 1);
    if (cur && !synthetic) cur.synthetic = false; // the server knows this cell
    if (cur && attempt < cur.attempt) return false;
    const newAttempt = cur && attempt > cur.attempt;
    if (cur && !newAttempt) {
      if (!canMove(cur.status, status)) {
        let changed = false; // a terminal cell can still learn a URL or a check it was missing
        if (status === cur.status && r.imageUrl && !cur.imageUrl) (cur.imageUrl = r.imageUrl), (changed = true);
        if (status === cur.status && r.thumbUrl && !cur.thumbUrl) (cur.thumbUrl = r.thumbUrl), (changed = true);
        if (status === cur.status && r.colorCheck && !cur.colorCheck) (cur.colorCheck = r.colorCheck), (changed = true);
        return changed;
      }
      const same =
        cur.status === status &&
        (r.imageUrl || null) === cur.imageUrl &&
        (r.thumbUrl || null) === cur.thumbUrl &&
        (r.error || null) === cur.error &&
        sameCheck(r.colorCheck, cur.colorCheck);
      if (same) return false;
    }
    this.cells.set(key, {
      type: r.type || (colorKey ? "color" : "angle"),
      angleKey: r.angleKey,
      colorKey,
      status,
      attempt,
      imageUrl: r.imageUrl || cur?.imageUrl || null,
      thumbUrl: r.thumbUrl || cur?.thumbUrl || null,
      error: r.error || null,
      colorCheck: colorCheckOf(r.colorCheck) || (newAttempt ? null : cur?.colorCheck || null),
      synthetic: cur ? cur.synthetic : synthetic,
    });
    if (!isTerminal(status)) this.sawRunning = true;
    if (!colorKey && status === STATUS.FAILED) {
      // the colours of a failed angle are never made: fail the placeholders the page drew for them
      for (const c of this.cells.values()) {
        if (c.synthetic && c.angleKey === r.angleKey && c.colorKey && !isTerminal(c.status)) {
          c.status = STATUS.FAILED;
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
    if (snap.cost && typeof snap.cost === "object") this.cost = snap.cost;
    if (typeof snap.createdAt === "string") this.createdAt = snap.createdAt;
    const sources = Array.isArray(snap.sourcePreviewUrls) && snap.sourcePreviewUrls.length ? snap.sourcePreviewUrls : snap.sourceImageUrls;
    if (Array.isArray(sources) && sources.length) this.sourceUrls = [...sources];
    if (snap.status) this.status = snap.status;
    if (isOutcome(snap.status)) this.markServerCompleted();
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
        this.status = isOutcome(data.status) ? data.status : BATCH_STATUS.COMPLETED;
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

  /** Every cell's attempt now (taken before a retry is asked for: see retryQueued). */
  attempts() {
    return new Map([...this.cells].map(([k, c]) => [k, c.attempt]));
  }

  /**
   * POST .../retry was accepted for `keys` (cell keys; none: every failed or canceled cell): each
   * goes back to queued as its next attempt, and a retried angle's colour cells with it. The
   * server's reports of the new attempt then take over. `before` (attempts() taken before the
   * request) keeps a cell whose new attempt was already reported (a push can beat the answer)
   * from being moved on twice.
   */
  retryQueued(keys = null, before = null) {
    const chosen = keys ? keys.map((k) => this.cells.get(k)).filter(Boolean) : this.retryable();
    const angles = new Set(chosen.filter((c) => !c.colorKey).map((c) => c.angleKey));
    const all = new Set(chosen);
    for (const c of this.cells.values()) if (c.colorKey && angles.has(c.angleKey) && isTerminal(c.status)) all.add(c);
    for (const c of all) {
      const was = before ? before.get(cellKey(c.angleKey, c.colorKey)) : c.attempt;
      if (was !== undefined && c.attempt > was) continue; // its new attempt is here already
      c.status = STATUS.QUEUED;
      c.attempt += 1;
      c.error = null;
      c.colorCheck = null;
    }
    if (all.size) {
      this.status = BATCH_STATUS.RUNNING;
      this.serverCompleted = false;
      this.sawRunning = true;
    }
    return all.size;
  }

  /** The cells "Retry failed" runs again: failed and canceled ones. */
  retryable() {
    return [...this.cells.values()].filter((c) => c.status === STATUS.FAILED || c.status === STATUS.CANCELED);
  }

  /** POST .../cancel was accepted: every open cell is canceled, finished ones stay. */
  canceled() {
    for (const c of this.cells.values()) {
      if (!isTerminal(c.status)) {
        c.status = STATUS.CANCELED;
        c.error = c.error || "Cancelled";
      }
    }
    this.status = BATCH_STATUS.CANCELED;
    this.serverCompleted = true;
  }

  /** The colours of `selected` (in that order) this angle has no cell for yet. */
  missingColors(angleKey, selected) {
    return selected.filter((c) => !this.cells.has(cellKey(angleKey, c)));
  }

  counts() {
    let completed = 0;
    let failed = 0;
    let canceled = 0;
    let processing = 0;
    let active = 0;
    for (const c of this.cells.values()) {
      if (c.status === STATUS.COMPLETED) completed += 1;
      else if (c.status === STATUS.FAILED) failed += 1;
      else if (c.status === STATUS.CANCELED) canceled += 1;
      else {
        active += 1;
        if (c.status === STATUS.PROCESSING) processing += 1;
      }
    }
    return { completed, failed, canceled, processing, active, total: this.cells.size };
  }

  /** counts() plus `done` (terminal cells), `percent` and `complete` (every cell terminal). */
  progress() {
    const c = this.counts();
    const done = c.completed + c.failed + c.canceled;
    return { ...c, done, percent: c.total ? (100 * done) / c.total : 0, complete: c.total > 0 && c.active === 0 };
  }
}
