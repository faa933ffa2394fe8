// The controls of the batch shown, under the results' head: Cancel (while it runs), Retry failed
// (n), Download all (ZIP) with its progress, Colorize all (manual batches) and the matrix density.
// The buttons are made once and updated in place; app.js decides what they do.

import { el, icon } from "./dom.js";

const $ = (id) => document.getElementById(id);

function archiveLabel(archive) {
  if (!archive) return "Download all (ZIP)";
  switch (archive.phase) {
    case "building":
      return "Preparing ZIP…";
    case "downloading":
      return archive.fraction === null ? "Downloading ZIP…" : `Downloading ZIP ${Math.round(100 * archive.fraction)}%`;
    case "done":
      return archive.handedOver ? "ZIP download started" : "ZIP saved ✓";
    default:
      return "Download all (ZIP)";
  }
}

export class BatchToolbar {
  /** @param {object} actions  onCancel(button), onRetryFailed(button), onDownloadAll(button), onColorizeAll(button), onDensity(compact) */
  constructor(actions) {
    this.actions = actions;
    this.buttons = {};
  }

  wire() {
    const make = (name, testId, iconName, onClick) => {
      const label = el("span", { class: "btn-label" });
      const b = el("button", { type: "button", class: "btn small", "data-testid": testId, hidden: true }, [icon(iconName), label]);
      b.addEventListener("click", () => onClick(b));
      this.buttons[name] = { node: b, label };
      return b;
    };
    const bar = $("batch-toolbar");
    const progress = el("span", { class: "zip-progress", id: "zip-progress", "data-testid": "download-all-progress", role: "progressbar", "aria-label": "ZIP download", "aria-valuemin": "0", "aria-valuemax": "100", hidden: true }, el("span", { class: "zip-bar" }));
    bar.append(
      make("cancel", "cancel-batch", "stop", (b) => this.actions.onCancel(b)),
      make("retry", "retry-failed", "refresh", (b) => this.actions.onRetryFailed(b)),
      make("colorize", "colorize-all", "palette", (b) => this.actions.onColorizeAll(b)),
      make("zip", "download-all", "zip", (b) => this.actions.onDownloadAll(b)),
      progress,
      el("span", { class: "toolbar-gap" }),
      make("density", "density-toggle", "compact", () => this.actions.onDensity(!this.compact)),
    );
    this.buttons.cancel.node.classList.add("danger-soft");
    this.buttons.retry.node.classList.add("warning-soft");
    this.progress = progress;
  }

  /**
   * @param {object|null} v  {running, retryable, completed, archive: {phase, fraction}|null,
   *   colorizeAll: {visible, enabled, count, reason}, compact, canceling, retrying}; null: no batch
   */
  render(v) {
    $("batch-toolbar").hidden = !v;
    if (!v) return;
    const set = (name, { visible, text, disabled = false, title = "" }) => {
      const { node, label } = this.buttons[name];
      const focused = document.activeElement === node;
      node.hidden = !visible;
      node.disabled = disabled;
      node.title = title;
      if (label.textContent !== text) label.textContent = text;
      // A control that goes away under the keyboard focus (Cancel once the batch stops, by the
      // answer or by a live update, whichever comes first) hands it to the status line that
      // tells what happened, never to the page's body.
      if (focused && (node.hidden || node.disabled)) $("batch-status").focus();
    };
    set("cancel", { visible: v.running, text: v.canceling ? "Cancelling…" : "Cancel", disabled: v.canceling, title: "Stop the batch: images already made stay" });
    set("retry", { visible: v.retryable > 0, text: v.retrying ? "Retrying…" : `Retry failed (${v.retryable})`, disabled: v.retrying, title: "Run every failed or cancelled image again" });
    const c = v.colorizeAll;
    set("colorize", { visible: c.visible, text: c.busy ? "Colorizing…" : `Colorize all (${c.count})`, disabled: !c.enabled, title: c.reason || `Colour every finished angle in the selected colours: ${c.count} images` });
    const busyZip = v.archive && (v.archive.phase === "building" || v.archive.phase === "downloading");
    set("zip", { visible: v.completed > 0, text: archiveLabel(v.archive), disabled: busyZip, title: "Every finished image, matrix.png and manifest.json in one ZIP" });
    this.buttons.zip.node.setAttribute("aria-busy", String(!!busyZip));
    this.progress.hidden = !busyZip;
    const pct = v.archive && typeof v.archive.fraction === "number" ? Math.round(100 * v.archive.fraction) : null;
    this.progress.classList.toggle("indeterminate", pct === null);
    if (pct === null) this.progress.removeAttribute("aria-valuenow");
    else this.progress.setAttribute("aria-valuenow", String(pct));
    this.progress.firstElementChild.style.width = pct === null ? "" : `${pct}%`;
    this.compact = v.compact;
    set("density", { visible: true, text: "Compact", title: v.compact ? "Show larger cells" : "Fit more cells on screen" });
    this.buttons.density.node.setAttribute("aria-pressed", String(v.compact));
  }
}
