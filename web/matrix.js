// The angle × colour matrix: rows are angles, the first (sticky) column is the angle shot, then
// one column per paint colour. Cell elements are keyed and updated in place so that images
// never reload or flicker when other cells change.

import { STATUS, assetIdOf, cellKey } from "./batch_state.js";
import { el, icon } from "./dom.js";

const STATUS_TEXT = { queued: "Queued", processing: "Generating…", completed: "Ready", failed: "Failed" };

/** Rows and columns of a batch (a BatchState of batch_state.js). */
export function layoutOf(batch, colorOrder) {
  const cells = [...batch.cells.values()];
  const rows = [...new Set([...batch.angles, ...cells.map((c) => c.angleKey)])];
  const present = new Set(cells.filter((c) => c.colorKey).map((c) => c.colorKey));
  const cols = [...new Set([...batch.colors, ...colorOrder, ...present])].filter(
    (c) => present.has(c) || (batch.autoColorize && batch.colors.includes(c)),
  );
  return { rows, cols };
}

export class MatrixView {
  /**
   * @param {HTMLElement} host
   * @param {object} ctx  labels and callbacks supplied by the app:
   *   angleLabel(k), angleDesc(k), colorLabel(k), swatch(k) -> css colour,
   *   colorOrder() -> colour keys in preset order, isSaved(assetId),
   *   colorizeState(angleKey) -> {visible, enabled, count, reason, busy},
   *   onOpen(key), onSave(cell), onColorize(angleKey)
   */
  constructor(host, ctx) {
    this.host = host;
    this.ctx = ctx;
    this.cellEls = new Map();
    this.colorizeEls = new Map();
    this.structure = "";
    this.batchId = null;
    this.emptyState = host.querySelector(".empty-state");
  }

  /** Rebuild the table at the next render (the preset labels changed). */
  relabel() {
    this.structure = "";
  }

  clear() {
    this.cellEls.clear();
    this.colorizeEls.clear();
    this.structure = "";
    this.batchId = null;
    this.host.replaceChildren(this.emptyState);
  }

  render(batch) {
    if (!batch) {
      if (this.batchId) this.clear();
      return;
    }
    if (batch.batchId !== this.batchId) {
      this.cellEls.clear();
      this.colorizeEls.clear();
      this.structure = "";
      this.batchId = batch.batchId;
    }
    const { rows, cols } = layoutOf(batch, this.ctx.colorOrder());
    const structure = `${rows.join(",")}|${cols.join(",")}|${batch.autoColorize}`;
    if (structure !== this.structure) {
      this.build(batch, rows, cols);
      this.structure = structure;
    }
    for (const [key, cell] of batch.cells) {
      const node = this.cellEls.get(key);
      if (node) this.updateCell(node, cell, batch.batchId);
    }
    for (const [angleKey, btn] of this.colorizeEls) this.updateColorize(btn, angleKey);
  }

  build(batch, rows, cols) {
    const { ctx } = this;
    const prevScroll = this.host.querySelector(".matrix-scroll")?.scrollLeft || 0;
    const headRow = el("tr", {}, [
      el("th", { scope: "col", class: "sticky col-angle" }, "Angle"),
      ...cols.map((c) =>
        el("th", { scope: "col", "data-color": c }, [
          el("span", { class: "col-head" }, [
            el("span", { class: "swatch", style: `--swatch:${ctx.swatch(c)}`, "aria-hidden": "true" }),
            el("span", { class: "col-label" }, ctx.colorLabel(c)),
          ]),
        ]),
      ),
    ]);
    const body = rows.map((a) => {
      const angleCell = this.slot(batch, a, null);
      const head = el("th", { scope: "row", class: "sticky" }, [
        el("div", { class: "row-head" }, [
          el("span", { class: "row-label" }, ctx.angleLabel(a)),
          ctx.angleDesc(a) ? el("span", { class: "row-desc", title: ctx.angleDesc(a) }, ctx.angleDesc(a)) : null,
        ]),
        angleCell,
      ]);
      if (!batch.autoColorize) {
        let btn = this.colorizeEls.get(a);
        if (!btn) {
          btn = el("button", { type: "button", class: "btn small accent-soft block colorize", "data-testid": `colorize-${a}` });
          btn.addEventListener("click", () => ctx.onColorize(a));
          this.colorizeEls.set(a, btn);
        }
        head.append(btn);
      }
      return el("tr", { "data-angle": a }, [head, ...cols.map((c) => el("td", {}, this.slot(batch, a, c)))]);
    });
    const table = el("table", { class: "matrix" }, [el("thead", {}, headRow), el("tbody", {}, body)]);
    const scroller = el("div", {
      class: "matrix-scroll",
      role: "region",
      tabindex: "0",
      "aria-label": "Results by angle and colour",
    }, table);
    scroller.addEventListener("scroll", () => scroller.classList.toggle("scrolled", scroller.scrollLeft > 2), { passive: true });
    this.host.replaceChildren(scroller);
    scroller.scrollLeft = prevScroll;
    scroller.classList.toggle("scrolled", scroller.scrollLeft > 2);
  }

  /** The cell element for (angle, colour), or an empty slot when the batch has no such cell. */
  slot(batch, angleKey, colorKey) {
    const key = cellKey(angleKey, colorKey);
    if (!batch.cells.has(key)) {
      return el("div", { class: "cell empty-slot" }, el("span", {}, batch.autoColorize ? "—" : "Not colorized"));
    }
    let node = this.cellEls.get(key);
    if (!node) {
      node = el("figure", {
        class: "cell",
        role: "group",
        "data-testid": `cell-${angleKey}-${colorKey || "angle"}`,
        "data-key": key,
      });
      this.cellEls.set(key, node);
    }
    return node;
  }

  updateCell(node, cell, batchId) {
    const { ctx } = this;
    const assetId = assetIdOf(batchId, cell.angleKey, cell.colorKey);
    const saved = ctx.isSaved(assetId);
    const sig = [cell.status, cell.thumbUrl, cell.imageUrl, cell.error, saved].join("|");
    if (node.dataset.sig === sig) return;
    node.dataset.sig = sig;
    node.dataset.status = cell.status;
    const what = `${ctx.angleLabel(cell.angleKey)}${cell.colorKey ? " · " + ctx.colorLabel(cell.colorKey) : ""}`;
    node.setAttribute("aria-label", `${what}: ${STATUS_TEXT[cell.status] || cell.status}`);
    node.setAttribute("aria-busy", String(cell.status === STATUS.PROCESSING));

    const tag = cell.colorKey
      ? el("span", { class: "cell-tag" }, [
          el("span", { class: "swatch sm", style: `--swatch:${ctx.swatch(cell.colorKey)}`, "aria-hidden": "true" }),
          ctx.colorLabel(cell.colorKey),
        ])
      : el("span", { class: "cell-tag" }, "Angle shot");

    let media;
    let actions = null;
    if (cell.status === STATUS.COMPLETED && (cell.thumbUrl || cell.imageUrl)) {
      const img = el("img", { src: cell.thumbUrl || cell.imageUrl, alt: `${what}, studio image`, decoding: "async" });
      img.addEventListener("error", () => node.classList.add("img-broken"), { once: true });
      media = el("button", { type: "button", class: "cell-media thumb-btn", "aria-label": `Open ${what} full size` }, [img, tag]);
      media.addEventListener("click", () => ctx.onOpen(cellKey(cell.angleKey, cell.colorKey)));
      const dl = el("a", {
        class: "btn small icon-only download",
        href: cell.imageUrl || cell.thumbUrl,
        download: `${cell.angleKey}-${cell.colorKey || "angle"}.png`,
        target: "_blank",
        rel: "noopener",
        "aria-label": "Download",
        title: "Download full-size PNG",
      }, icon("download"));
      const save = el("button", {
        type: "button",
        class: `btn small save${saved ? " saved" : ""}`,
        "aria-pressed": String(saved),
        title: saved ? "In your Gallery: show it" : "Save to Gallery",
      }, el("span", { class: "btn-label" }, saved ? "Saved ✓" : "Save to Gallery"));
      save.addEventListener("click", () => ctx.onSave(cell));
      actions = el("div", { class: "cell-actions" }, [dl, save]);
    } else if (cell.status === STATUS.FAILED) {
      media = el("div", { class: "cell-media placeholder failed" }, [
        icon("alert"),
        el("span", { class: "ph-title" }, "Failed"),
        el("span", { class: "ph-reason", title: cell.error || "" }, cell.error || "The image could not be generated."),
        tag,
      ]);
    } else if (cell.status === STATUS.PROCESSING) {
      media = el("div", { class: "cell-media placeholder processing" }, [
        el("span", { class: "spinner", "aria-hidden": "true" }),
        el("span", { class: "ph-title" }, "Generating…"),
        tag,
      ]);
    } else {
      media = el("div", { class: "cell-media placeholder queued" }, [
        icon("clock"),
        el("span", { class: "ph-title" }, cell.status === STATUS.COMPLETED ? "Ready" : "Queued"),
        tag,
      ]);
    }
    node.replaceChildren(media, ...(actions ? [actions] : []));
  }

  updateColorize(btn, angleKey) {
    const s = this.ctx.colorizeState(angleKey);
    btn.hidden = !s.visible;
    btn.setAttribute("aria-busy", String(!!s.busy));
    btn.disabled = !s.enabled;
    btn.title = s.reason || "";
    btn.setAttribute("aria-label", s.enabled ? `Colorize ${this.ctx.angleLabel(angleKey)} in ${s.count} colour${s.count === 1 ? "" : "s"}` : `Colorize ${this.ctx.angleLabel(angleKey)}: ${s.reason}`);
    const sig = [s.visible, s.enabled, s.busy, s.count, s.reason].join("|");
    if (btn.dataset.sig === sig) return;
    btn.dataset.sig = sig;
    const parts = [icon("palette"), el("span", {}, s.busy ? "Colorizing…" : "Colorize")];
    if (s.enabled) parts.push(el("span", { class: "pill", "aria-hidden": "true" }, String(s.count)));
    btn.replaceChildren(...parts);
  }

  /** Keys of completed cells in reading order (for the lightbox's previous/next). */
  completedKeys(batch) {
    const { rows, cols } = layoutOf(batch, this.ctx.colorOrder());
    const out = [];
    for (const a of rows) {
      for (const c of [null, ...cols]) {
        const cell = batch.cells.get(cellKey(a, c));
        if (cell && cell.status === STATUS.COMPLETED && (cell.imageUrl || cell.thumbUrl)) out.push(cellKey(a, c));
      }
    }
    return out;
  }
}
