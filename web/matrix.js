// The angle × colour matrix: rows are angles, the first (sticky) column is the angle shot, then
// one column per paint colour under a sticky header row. Cell elements are keyed and updated in
// place (matrix_cell.js draws one), so images never reload or flicker when other cells change.
// A compact density fits a 30 × 40 batch's columns; the table scrolls both ways inside its panel.

import { STATUS, cellKey } from "./batch_state.js";
import { el, icon } from "./dom.js";
import { drawCell } from "./matrix_cell.js";

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
   *   angleLabel(k), angleDesc(k), colorLabel(k), swatch(k) -> css colour, humanize(text),
   *   colorOrder() -> colour keys in preset order, isSaved(assetId), isRetrying(cellKey),
   *   colorizeState(angleKey) -> {visible, enabled, count, reason, busy},
   *   onOpen(key), onSave(cell), onColorize(angleKey), onRetry(cell, button), onDownload(cell, button)
   */
  constructor(host, ctx) {
    this.host = host;
    this.ctx = { ...ctx, isExpanded: (key) => this.expanded.has(key), onToggleReason: (key) => this.toggleReason(key) };
    this.cellEls = new Map();
    this.colorizeEls = new Map();
    this.expanded = new Set(); // cells whose full failure reason is open
    this.structure = "";
    this.batchId = null;
    this.batch = null;
    this.emptyState = host.querySelector(".empty-state");
  }

  /** Rebuild the table at the next render (the preset labels changed). */
  relabel() {
    this.structure = "";
  }

  clear() {
    this.cellEls.clear();
    this.colorizeEls.clear();
    this.expanded.clear();
    this.structure = "";
    this.batchId = null;
    this.batch = null;
    this.host.replaceChildren(this.emptyState);
  }

  toggleReason(key) {
    if (this.expanded.has(key)) this.expanded.delete(key);
    else this.expanded.add(key);
    if (this.batch) this.render(this.batch);
  }

  render(batch) {
    if (!batch) {
      if (this.batchId) this.clear();
      return;
    }
    if (batch.batchId !== this.batchId) {
      this.cellEls.clear();
      this.colorizeEls.clear();
      this.expanded.clear();
      this.structure = "";
      this.batchId = batch.batchId;
    }
    this.batch = batch;
    const { rows, cols } = layoutOf(batch, this.ctx.colorOrder());
    // the cell count too: a colour cell added to a column that exists already (colorize another
    // row in a colour one row has) changes no row or column but needs its slot
    const structure = `${rows.join(",")}|${cols.join(",")}|${batch.autoColorize}|${batch.cells.size}`;
    if (structure !== this.structure) {
      this.build(batch, rows, cols);
      this.structure = structure;
    }
    for (const [key, cell] of batch.cells) {
      const node = this.cellEls.get(key);
      if (node) drawCell(node, cell, batch.batchId, this.ctx);
    }
    for (const [angleKey, btn] of this.colorizeEls) this.updateColorize(btn, angleKey);
  }

  build(batch, rows, cols) {
    const { ctx } = this;
    const old = this.host.querySelector(".matrix-scroll");
    const prev = old ? [old.scrollLeft, old.scrollTop] : [0, 0];
    const headRow = el("tr", {}, [
      el("th", { scope: "col", class: "sticky corner col-angle" }, "Angle"),
      ...cols.map((c) =>
        el("th", { scope: "col", "data-color": c, class: "col-th" }, [
          el("span", { class: "col-head", title: ctx.colorLabel(c) }, [
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
          el("span", { class: "row-label", title: ctx.angleLabel(a) }, ctx.angleLabel(a)),
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
    scroller.addEventListener("scroll", () => this.markScrolled(scroller), { passive: true });
    this.host.replaceChildren(scroller);
    [scroller.scrollLeft, scroller.scrollTop] = prev;
    this.markScrolled(scroller);
  }

  markScrolled(scroller) {
    scroller.classList.toggle("scrolled", scroller.scrollLeft > 2);
    scroller.classList.toggle("scrolled-y", scroller.scrollTop > 2);
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
        tabindex: "-1",
        "data-testid": `cell-${angleKey}-${colorKey || "angle"}`,
        "data-key": key,
      });
      this.cellEls.set(key, node);
    }
    return node;
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
