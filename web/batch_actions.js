// What the dealer can do to the batch shown, over the API: Retry a cell, Regenerate a finished one,
// Retry failed (n), Cancel (after a confirmation), Download one image or all (ZIP), Colorize all
// finished angles. Each updates the BatchState at once (the server's reports then take over) and
// says what it did; app.js owns the state and draws.

import { STATUS, cellKey, isTerminal } from "./batch_state.js";
import { formatUsd } from "./batch_outcome.js";
import { downloadArchive, saveUrl } from "./downloads.js";
import { plural } from "./labels.js";
import { toast, toastError } from "./notify.js";

export class BatchActions {
  /**
   * @param {object} ctx  getBatch(), getApi(), presets, confirm: ConfirmDialog, render(),
   *   refresh(reason) -> re-read the snapshot, selectedColors() -> colour keys picked in the form
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.retrying = new Set(); // cell keys whose POST .../retry is in flight
    this.retryingAll = false;
    this.canceling = false;
    this.colorizingAll = false;
    this.colorizing = new Set(); // angle keys whose POST .../colorize is in flight
    this.archive = null; // {batchId, phase, fraction, ...} of the ZIP in progress or just saved
  }

  /** What the toolbar shows for a batch (see BatchToolbar.render). */
  toolbarState(batch, colorizeAll, compact) {
    const p = batch.progress();
    return {
      running: !p.complete && batch.status !== "canceled",
      retryable: batch.retryable().length,
      completed: p.completed,
      archive: this.archive && this.archive.batchId === batch.batchId ? this.archive : null,
      colorizeAll,
      compact,
      canceling: this.canceling,
      retrying: this.retryingAll,
    };
  }

  /** Retry (failed or cancelled cell) or Regenerate (finished cell): the cell runs again as its next attempt. */
  async retryCell(cell) {
    const batch = this.ctx.getBatch();
    const key = cellKey(cell.angleKey, cell.colorKey);
    if (!batch || this.retrying.has(key)) return;
    this.retrying.add(key);
    this.ctx.render();
    const what = this.ctx.presets.cellTitle(cell);
    const regenerate = cell.status === STATUS.COMPLETED;
    try {
      const before = batch.attempts();
      const answer = await this.ctx.getApi().retry(batch.batchId, [{ angleKey: cell.angleKey, colorKey: cell.colorKey }]);
      if (this.ctx.getBatch() !== batch) return;
      batch.retryQueued(retriedKeys(answer, [key]), before);
      toast(`${regenerate ? "Regenerating" : "Retrying"} ${what}${costNote(answer)}`, "success");
      this.ctx.refresh("after retry");
    } catch (err) {
      toastError(err);
    } finally {
      this.retrying.delete(key);
      this.ctx.render();
    }
  }

  async retryFailed() {
    const batch = this.ctx.getBatch();
    if (!batch || this.retryingAll || !batch.retryable().length) return;
    this.retryingAll = true;
    this.ctx.render();
    try {
      const before = batch.attempts();
      const answer = await this.ctx.getApi().retry(batch.batchId);
      if (this.ctx.getBatch() !== batch) return;
      const keys = retriedKeys(answer, null);
      batch.retryQueued(keys, before);
      toast(`Retrying ${plural(keys ? keys.length : 0, "image")}${costNote(answer)}`, "success");
      this.ctx.refresh("after retry failed");
    } catch (err) {
      toastError(err);
    } finally {
      this.retryingAll = false;
      this.ctx.render();
    }
  }

  /** Ask first; on yes stop the batch (finished images stay). Focus goes back to the button, or to the status line once it is gone. */
  async cancel(button) {
    const batch = this.ctx.getBatch();
    if (!batch || this.canceling) return;
    const p = batch.progress();
    const yes = await this.ctx.confirm.ask({
      title: "Cancel this batch?",
      body: `${plural(p.active, "image")} still to make will be stopped and not billed.${p.completed ? ` The ${plural(p.completed, "image")} already made stay.` : ""}`,
      yes: "Cancel batch",
      no: "Keep generating",
    }, button);
    if (!yes || this.ctx.getBatch() !== batch) return;
    this.canceling = true;
    this.ctx.render();
    try {
      await this.ctx.getApi().cancel(batch.batchId);
      if (this.ctx.getBatch() !== batch) return;
      batch.canceled();
      this.ctx.refresh("after cancel");
    } catch (err) {
      toastError(err);
    } finally {
      this.canceling = false;
      this.ctx.render(); // the toolbar moves the focus off Cancel when it goes away
    }
  }

  async downloadCell(cell, button) {
    const name = `${cell.angleKey}-${cell.colorKey || "angle"}${cell.attempt > 1 ? `-try${cell.attempt}` : ""}.png`;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await saveUrl(cell.imageUrl || cell.thumbUrl, name);
    } catch (err) {
      toastError(err);
    } finally {
      button.disabled = false;
      button.setAttribute("aria-busy", "false");
    }
  }

  async downloadAll() {
    const batch = this.ctx.getBatch();
    if (!batch || (this.archive && ["building", "downloading"].includes(this.archive.phase))) return;
    const batchId = batch.batchId;
    try {
      await downloadArchive(this.ctx.getApi(), batchId, (s) => {
        this.archive = { batchId, ...s };
        this.ctx.render();
      });
      toast(`Saved batch-${batchId}.zip`, "success");
    } catch (err) {
      this.archive = null;
      toastError(err);
    } finally {
      this.ctx.render();
    }
  }

  /** The Colorize button of an angle's row (manual batches): shown, enabled, why not. */
  colorizeRowState(batch, angleKey) {
    if (!batch || batch.autoColorize) return { visible: false };
    const angle = batch.cells.get(cellKey(angleKey, null));
    if (!angle || angle.status === STATUS.FAILED || angle.status === STATUS.CANCELED) return { visible: false };
    if (this.colorizing.has(angleKey) || this.colorizingAll) return { visible: true, enabled: false, busy: true, count: 0, reason: "Colorizing…" };
    if (angle.status !== STATUS.COMPLETED) return { visible: true, enabled: false, count: 0, reason: "Available when the angle shot is ready" };
    const selected = this.ctx.selectedColors();
    if (!selected.length) return { visible: true, enabled: false, count: 0, reason: "Pick paint colours in the left panel" };
    const missing = batch.missingColors(angleKey, selected);
    if (!missing.length) return { visible: true, enabled: false, count: 0, reason: "Already made in every selected colour" };
    return { visible: true, enabled: true, count: missing.length, reason: "" };
  }

  async colorizeRow(angleKey) {
    const batch = this.ctx.getBatch();
    if (!batch || !this.colorizeRowState(batch, angleKey).enabled) return;
    const colors = batch.missingColors(angleKey, this.ctx.selectedColors());
    this.colorizing.add(angleKey);
    this.ctx.render();
    try {
      const answer = await this.ctx.getApi().colorize(batch.batchId, { colors, angles: [angleKey] });
      if (this.ctx.getBatch() !== batch) return;
      batch.colorizeQueued(angleKey, colors);
      toast(`Colorizing ${this.ctx.presets.angleLabel(angleKey)} in ${plural(colors.length, "colour")}${costNote(answer)}`, "success");
      this.ctx.refresh("after colorize");
    } catch (err) {
      toastError(err);
    } finally {
      this.colorizing.delete(angleKey);
      this.ctx.render();
    }
  }

  /** The finished angles still missing some of the selected colours (manual batches). */
  colorizeAllPlan(batch) {
    const colors = this.ctx.selectedColors();
    const angles = batch.angles.filter((a) => batch.cells.get(cellKey(a, null))?.status === STATUS.COMPLETED && batch.missingColors(a, colors).length);
    const count = angles.reduce((n, a) => n + batch.missingColors(a, colors).length, 0);
    return { angles, colors, count };
  }

  colorizeAllState(batch) {
    if (!batch || batch.autoColorize) return { visible: false, enabled: false, count: 0 };
    const { angles, colors, count } = this.colorizeAllPlan(batch);
    if (this.colorizingAll) return { visible: true, enabled: false, busy: true, count };
    const waiting = batch.angles.some((a) => !isTerminal(batch.cells.get(cellKey(a, null))?.status ?? STATUS.QUEUED));
    const several = batch.angles.length > 1;
    if (!colors.length) return { visible: several, enabled: false, count: 0, reason: "Pick paint colours in the left panel" };
    // shown while there is something to colour now or once an angle shot is ready; gone when all is coloured
    return { visible: several && (count > 0 || waiting), enabled: count > 0, count, reason: count ? "" : "Available when angle shots are ready" };
  }

  async colorizeAll() {
    const batch = this.ctx.getBatch();
    if (!batch || this.colorizingAll) return;
    const { angles, colors, count } = this.colorizeAllPlan(batch);
    if (!angles.length || !colors.length) return;
    this.colorizingAll = true;
    this.ctx.render();
    try {
      const answer = await this.ctx.getApi().colorize(batch.batchId, { colors, angles });
      if (this.ctx.getBatch() !== batch) return;
      for (const a of angles) batch.colorizeQueued(a, batch.missingColors(a, colors));
      toast(`Colorizing ${plural(angles.length, "angle")}: ${plural(count, "image")}${costNote(answer)}`, "success");
      this.ctx.refresh("after colorize all");
    } catch (err) {
      toastError(err);
    } finally {
      this.colorizingAll = false;
    this.colorizing = new Set(); // angle keys whose POST .../colorize is in flight
      this.ctx.render();
    }
  }
}

/** The cell keys the retry answer names (`retried`: [{angleKey, colorKey}]), else `fallback`. */
function retriedKeys(answer, fallback) {
  const list = answer && Array.isArray(answer.retried) ? answer.retried : null;
  return list ? list.filter((r) => r && r.angleKey).map((r) => cellKey(r.angleKey, r.colorKey)) : fallback;
}

function costNote(answer) {
  const usd = answer && answer.estimate && typeof answer.estimate.costUsd === "number" ? answer.estimate.costUsd : null;
  return usd === null ? "" : ` · about ${formatUsd(usd)}`;
}
