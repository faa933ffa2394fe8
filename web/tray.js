// The jobs tray (right panel; a slide-in drawer ≤ 800 px, opened by the "Jobs (n)" button): one
// item per open cell, processing first, then queued in matrix order. A finished cell's item leaves
// at once, a failed one after 4 s (showing "Failed" meanwhile).

import { STATUS, cellKey, isTerminal } from "./batch_state.js";
import { el, icon } from "./dom.js";

const FAILED_LINGER_MS = 4000;
const LEAVE_ANIMATION_MS = 260;
const $ = (id) => document.getElementById(id);

export class JobsTray {
  /**
   * @param {object} ctx  presets: labels.js Presets; smallScreen: the MediaQueryList of the
   *   one-column layout; activeJobs() -> open cells of the batch shown (0 without one);
   *   isLightboxOpen() -> Escape belongs to the lightbox then
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.items = new Map(); // cellKey -> {node, status, timer, leaving}
  }

  wire() {
    $("jobs-toggle").addEventListener("click", () => this.open(!document.body.classList.contains("tray-open")));
    $("tray-close").addEventListener("click", () => this.open(false));
    $("scrim").addEventListener("click", () => this.open(false));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && document.body.classList.contains("tray-open") && !this.ctx.isLightboxOpen()) this.open(false);
    });
    this.ctx.smallScreen.addEventListener("change", () => this.open(false));
  }

  open(open) {
    document.body.classList.toggle("tray-open", open);
    $("jobs-toggle").setAttribute("aria-expanded", String(open));
    $("scrim").hidden = !open;
    if (open) $("tray-close").focus();
    else if (this.ctx.smallScreen.matches) $("jobs-toggle").focus();
  }

  /** Forget every item (a new batch is shown). */
  reset() {
    for (const item of this.items.values()) clearTimeout(item.timer);
    this.items.clear();
    $("jobs-list").replaceChildren();
  }

  /** Bring the items in line with a batch (a BatchState, or null for none). */
  render(batch) {
    const list = $("jobs-list");
    if (!batch) {
      this.reset();
      this.updateCount();
      return;
    }
    for (const cell of batch.cells.values()) {
      const key = cellKey(cell.angleKey, cell.colorKey);
      let item = this.items.get(key);
      if (!isTerminal(cell.status)) {
        if (!item) {
          item = { node: this.itemNode(cell), status: null, timer: null, leaving: false };
          this.items.set(key, item);
          list.append(item.node);
        }
        this.setStatus(item, cell);
      } else if (item && !item.leaving) {
        this.setStatus(item, cell);
        this.leave(key, cell.status === STATUS.FAILED ? FAILED_LINGER_MS : 0);
      }
    }
    // processing first, then queued, in matrix order
    const live = [...list.children].filter((n) => n.dataset.status === STATUS.PROCESSING);
    for (const n of live.reverse()) list.prepend(n);
    this.updateCount();
  }

  /** The open-job count on the tray's badge and the small-screen button. */
  updateCount() {
    const active = this.ctx.activeJobs();
    $("tray-count").textContent = String(active);
    $("jobs-toggle").textContent = `Jobs (${active})`;
    $("jobs-toggle").classList.toggle("has-jobs", active > 0);
    $("tray-empty").hidden = $("jobs-list").children.length > 0;
  }

  itemNode(cell) {
    const { presets } = this.ctx;
    const lead = cell.colorKey
      ? el("span", { class: "swatch", style: `--swatch:${presets.swatch(cell.colorKey)}`, "aria-hidden": "true" })
      : el("span", { class: "job-angle-icon", "aria-hidden": "true" }, icon("image"));
    return el("li", { class: "job", "data-testid": "jobs-item", "data-key": cellKey(cell.angleKey, cell.colorKey) }, [
      lead,
      el("span", { class: "job-text" }, [
        el("span", { class: "job-title" }, presets.angleLabel(cell.angleKey)),
        el("span", { class: "job-sub" }, cell.colorKey ? presets.colorLabel(cell.colorKey) : "Angle shot"),
      ]),
      el("span", { class: "job-status" }),
    ]);
  }

  setStatus(item, cell) {
    if (item.status === cell.status) return;
    item.status = cell.status;
    item.node.dataset.status = cell.status;
    const s = item.node.querySelector(".job-status");
    if (cell.status === STATUS.PROCESSING) s.replaceChildren(el("span", { class: "spinner sm", "aria-hidden": "true" }), "Generating");
    else if (cell.status === STATUS.FAILED) s.replaceChildren(icon("alert"), "Failed");
    else s.replaceChildren("Queued");
    if (cell.status === STATUS.FAILED) item.node.title = cell.error || "";
  }

  leave(key, delay) {
    const item = this.items.get(key);
    if (!item || item.leaving) return;
    item.leaving = true;
    item.timer = setTimeout(() => {
      item.node.dataset.leaving = "true";
      item.node.classList.add("leaving");
      setTimeout(() => {
        item.node.remove();
        if (this.items.get(key) === item) this.items.delete(key);
        this.updateCount();
      }, LEAVE_ANIMATION_MS);
    }, delay);
  }
}
