// The head of the results panel: "n / N done", the progress bar and the batch status line, in the
// tone of its outcome (batch_outcome.js: a batch with failures is a warning, never a success), and
// one toast when a batch this page watched running reaches its outcome.

import { describeBatch, summarizeBatch } from "./batch_outcome.js";
import { isOutcome } from "./batch_state.js";
import { toast } from "./notify.js";

const $ = (id) => document.getElementById(id);
const TOAST_KIND = { success: "success", warning: "warning", danger: "error", canceled: "info" };

export class ProgressView {
  constructor() {
    this.announced = new WeakSet(); // batches whose outcome was announced (until they run again)
  }

  /** Draw a BatchState (or null: no batch yet). */
  render(batch) {
    const wrap = $("progress-wrap");
    const status = $("batch-status");
    if (!batch) {
      wrap.hidden = true;
      status.textContent = "No batch yet";
      status.dataset.state = "none";
      delete status.dataset.tone;
      return;
    }
    const { total, done, percent, complete } = batch.progress();
    const outcome = describeBatch(batch);
    wrap.hidden = false;
    $("batch-progress").textContent = `${done} / ${total} done`;
    const bar = $("progress");
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(done));
    bar.setAttribute("aria-valuetext", `${done} of ${total} images done`);
    $("progress-bar").style.width = `${percent}%`;
    wrap.dataset.tone = outcome.tone;
    wrap.classList.toggle("complete", complete);
    status.dataset.state = complete ? "complete" : "running";
    status.dataset.tone = outcome.tone;
    status.dataset.outcome = outcome.status;
    if (status.textContent !== outcome.text) status.textContent = outcome.text;
    if (complete) {
      // announced once the server names the outcome (the cells can all be done a moment before)
      if (batch.sawRunning && isOutcome(batch.status) && !this.announced.has(batch)) {
        this.announced.add(batch);
        toast(summarizeBatch(batch), TOAST_KIND[outcome.tone] || "info");
      }
    } else {
      this.announced.delete(batch);
    }
  }
}
