// The jobs tray (right panel; a slide-in drawer ≤ 800 px, opened by the "Jobs (n)" button): the
// open cells of the batch shown, processing first, in the order tray_plan.js decides; at most
// TRAY_LIMIT drawn and the rest counted on one line, so the counter always equals what the list
// accounts for. Items are keyed and updated in place (never rebuilt, only moved when their place
// changes); a finished item shows "Done"/"Failed"/"Cancelled" while it fades out and no longer counts.

import { STATUS, cellKey, isTerminal } from "./batch_state.js";
import { el, icon } from "./dom.js";
import { plural } from "./labels.js";
import { jobStatusLabel, planTray } from "./tray_plan.js";

const LEAVE_MS = 600;
const $ = (id) => document.getElementById(id);

export class JobsTray {
  /**
   * @param {object} ctx  presets: labels.js Presets; smallScreen: the MediaQueryList of the
   *   one-column layout; isDialogOpen() -> Escape belongs to a dialog then
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.items = new Map(); // cellKey -> {node, status}
    this.leaving = new Map(); // cellKey -> node fading out
    this.plan = { keys: [], more: 0, count: 0 };
    this.failed = 0;
  }

  wire() {
    $("jobs-toggle").addEventListener("click", () => this.open(!document.body.classList.contains("tray-open")));
    $("tray-close").addEventListener("click", () => this.open(false));
    $("scrim").addEventListener("click", () => this.open(false));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && document.body.classList.contains("tray-open") && !this.ctx.isDialogOpen()) this.open(false);
    });
    this.ctx.smallScreen.addEventListener("change", () => this.open(false));
  }

  open(open) {
    const wasOpen = document.body.classList.contains("tray-open");
    const focusInside = $("jobs-tray").contains(document.activeElement);
    document.body.classList.toggle("tray-open", open);
    $("jobs-toggle").setAttribute("aria-expanded", String(open));
    $("scrim").hidden = !open;
    if (open) $("tray-close").focus();
    // back to the button that opened the drawer, only if the focus was in it (never steal it)
    else if (wasOpen && focusInside && this.ctx.smallScreen.matches) $("jobs-toggle").focus();
  }

  /** Forget every item (another batch is shown). */
  reset() {
    this.items.clear();
    this.leaving.clear();
    this.plan = { keys: [], more: 0, count: 0 };
    this.failed = 0;
    $("jobs-list").replaceChildren();
  }

  /** Bring the items in line with a batch (a BatchState, or null for none). */
  render(batch) {
    if (!batch) {
      this.reset();
      this.updateCount();
      return;
    }
    const list = $("jobs-list");
    const plan = planTray(batch);
    const wanted = new Set(plan.keys);
    for (const [key, item] of this.items) {
      if (wanted.has(key)) continue;
      this.items.delete(key);
      this.leave(key, item, batch.cells.get(key));
    }
    let anchor = list.firstElementChild;
    const skipLeaving = () => {
      while (anchor && anchor.dataset.leaving) anchor = anchor.nextElementSibling;
    };
    for (const key of plan.keys) {
      const cell = batch.cells.get(key);
      let item = this.items.get(key);
      if (!item) {
        item = { node: this.itemNode(cell), status: null };
        this.items.set(key, item);
      }
      this.setStatus(item, cell.status);
      skipLeaving();
      if (anchor !== item.node) list.insertBefore(item.node, anchor);
      else anchor = anchor.nextElementSibling;
    }
    this.plan = plan;
    this.failed = batch.counts().failed;
    this.updateCount();
  }

  /** The counter (badge and small-screen button) and the lines under the list: one source, the plan. */
  updateCount() {
    const { count, more } = this.plan;
    $("tray-count").textContent = String(count);
    $("jobs-toggle").textContent = `Jobs (${count})`;
    $("jobs-toggle").classList.toggle("has-jobs", count > 0);
    const moreLine = $("tray-more");
    moreLine.hidden = more === 0;
    moreLine.textContent = `+ ${more} more queued`;
    $("tray-empty").hidden = count > 0;
    const failedLine = $("tray-failed");
    failedLine.hidden = this.failed === 0;
    failedLine.textContent = `${plural(this.failed, "image")} failed: retry ${this.failed === 1 ? "it" : "them"} in the results.`;
  }

  itemNode(cell) {
    const { presets } = this.ctx;
    const lead = cell.colorKey
      ? el("span", { class: "swatch", style: `--swatch:${presets.swatch(cell.colorKey)}`, "aria-hidden": "true" })
      : el("span", { class: "job-angle-icon", "aria-hidden": "true" }, icon("image"));
    const node = el("li", { class: "job entering", "data-testid": "jobs-item", "data-key": cellKey(cell.angleKey, cell.colorKey) }, [
      lead,
      el("span", { class: "job-text" }, [
        el("span", { class: "job-title" }, presets.angleLabel(cell.angleKey)),
        el("span", { class: "job-sub" }, cell.colorKey ? presets.colorLabel(cell.colorKey) : "Angle shot"),
      ]),
      el("span", { class: "job-status" }),
    ]);
    node.addEventListener("animationend", () => node.classList.remove("entering"), { once: true });
    return node;
  }

  setStatus(item, status) {
    if (item.status === status) return;
    item.status = status;
    item.node.dataset.status = status;
    const s = item.node.querySelector(".job-status");
    const lead = status === STATUS.PROCESSING
      ? el("span", { class: "spinner sm", "aria-hidden": "true" })
      : status === STATUS.FAILED ? icon("alert") : status === STATUS.COMPLETED ? icon("check") : null;
    s.replaceChildren(...(lead ? [lead] : []), jobStatusLabel(status));
  }

  /** A job that finished (or left the drawn part of the list): shown with its outcome, then removed. */
  leave(key, item, cell) {
    const node = item.node;
    if (!cell || !node.isConnected || !isTerminal(cell.status)) {
      node.remove();
      return;
    }
    this.setStatus(item, cell.status);
    node.dataset.leaving = "true";
    node.setAttribute("aria-hidden", "true");
    node.classList.add("leaving");
    this.leaving.set(key, node);
    setTimeout(() => {
      node.remove();
      if (this.leaving.get(key) === node) this.leaving.delete(key);
    }, LEAVE_MS);
  }
}
