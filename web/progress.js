// The head of the results panel: "n / N done", the progress bar, the batch status line, and one
// toast when a batch this page watched running completes.

import { plural } from "./labels.js";
import { toast } from "./notify.js";

const $ = (id) => document.getElementById(id);

export class ProgressView {
  constructor() {
    this.announced = new WeakSet(); // batches whose completion was announced (until they run again)
  }

  /** Draw a BatchState (or null: no batch yet). */
  render(batch) {
    const wrap = $("progress-wrap");
    const status = $("batch-status");
    if (!batch) {
      wrap.hidden = true;
      status.textContent = "No batch yet";
      return;
    }
    const { completed, failed, processing, total, done, percent, complete } = batch.progress();
    wrap.hidden = false;
    $("batch-progress").textContent = `${done} / ${total} done`;
    const bar = $("progress");
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(done));
    bar.setAttribute("aria-valuetext", `${done} of ${total} images done`);
    $("progress-bar").style.width = `${percent}%`;
    wrap.classList.toggle("complete", complete);
    status.dataset.state = complete ? "complete" : "running";
    if (complete) {
      const text = `Batch complete: ${plural(completed, "image")}${failed ? `, ${failed} failed` : ""}`;
      status.textContent = text;
      if (batch.sawRunning && !this.announced.has(batch)) {
        this.announced.add(batch);
        toast(text, failed ? "info" : "success");
      }
    } else {
      this.announced.delete(batch);
      status.textContent = `Generating ${plural(total, "image")}${processing ? ` · ${processing} in progress` : ""}`;
    }
  }
}
