// The Gallery view: every finished image of the user, newest first (GET /gallery, "Load more"
// pages with nextToken), each opening the lightbox; and revealing one image after "Save to Gallery".

import { el, icon } from "./dom.js";
import { lightboxItem } from "./lightbox.js";
import { toastError } from "./notify.js";

const REVEAL_MAX_PAGES = 5;
const HIGHLIGHT_MS = 3000;
const $ = (id) => document.getElementById(id);

function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, {
    month: "short", day: "numeric", ...(sameYear ? {} : { year: "numeric" }), hour: "numeric", minute: "2-digit",
  });
}

/** Asset ids confirmed with "Save to Gallery" (the latest 500, kept in localStorage.mpSaved). */
export class SavedAssets {
  constructor() {
    try {
      this.ids = new Set(JSON.parse(localStorage.getItem("mpSaved") || "[]"));
    } catch {
      this.ids = new Set();
    }
  }

  has(assetId) {
    return this.ids.has(assetId);
  }

  add(assetId) {
    this.ids.add(assetId);
    try {
      localStorage.setItem("mpSaved", JSON.stringify([...this.ids].slice(-500)));
    } catch {
      /* storage may be unavailable */
    }
  }
}

export class GalleryView {
  /**
   * @param {object} ctx  presets: labels.js Presets; getApi() -> Api or null before boot;
   *   openLightbox(items, index, opener)
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.items = [];
    this.nextToken = null;
    this.loading = false;
    this.loaded = false;
  }

  wire() {
    $("gallery-more").addEventListener("click", () => this.load(false));
    $("gallery-refresh").addEventListener("click", () => this.load(true));
  }

  /** The first page (reset) or the next one. */
  async load(reset) {
    const api = this.ctx.getApi();
    if (this.loading || !api) return;
    this.loading = true;
    this.render();
    try {
      const res = await api.gallery(reset ? null : this.nextToken);
      if (reset) this.items = [];
      const seen = new Set(this.items.map((i) => i.assetId));
      for (const item of res.items || []) if (!seen.has(item.assetId)) this.items.push(item);
      this.nextToken = res.nextToken || null;
      this.loaded = true;
    } catch (err) {
      toastError(err);
    } finally {
      this.loading = false;
      this.render();
    }
  }

  render() {
    const grid = $("gallery-grid");
    grid.setAttribute("aria-busy", String(this.loading));
    if (!this.loaded && this.loading) {
      grid.replaceChildren(...Array.from({ length: 8 }, () => el("div", { class: "g-item skeleton", "aria-hidden": "true" })));
    } else {
      const existing = new Map([...grid.querySelectorAll("[data-testid=gallery-item]")].map((n) => [n.dataset.assetId, n]));
      grid.replaceChildren(...this.items.map((item, i) => existing.get(item.assetId) || this.itemNode(item, i)));
      // the index used by the lightbox may change when items are inserted
      grid.querySelectorAll("[data-testid=gallery-item]").forEach((n, i) => (n.dataset.index = String(i)));
    }
    $("gallery-empty").hidden = !(this.loaded && !this.items.length);
    const more = $("gallery-more");
    more.hidden = !this.nextToken;
    more.disabled = this.loading;
    more.textContent = this.loading && this.loaded ? "Loading…" : "Load more";
  }

  itemNode(item, index) {
    const { presets } = this.ctx;
    const title = presets.cellTitle(item);
    const img = el("img", { src: item.thumbUrl || item.imageUrl, alt: `${title}, studio image` });
    const open = el("button", { type: "button", class: "g-thumb", "aria-label": `Open ${title} full size` }, img);
    const node = el("figure", {
      class: "g-item",
      "data-testid": "gallery-item",
      "data-asset-id": item.assetId,
      "data-batch-id": item.batchId || "",
      "data-angle-key": item.angleKey || "",
      "data-color-key": item.colorKey || "",
      "data-index": String(index),
    }, [
      open,
      el("figcaption", {}, [
        el("span", { class: "g-title" }, [
          item.colorKey ? el("span", { class: "swatch sm", style: `--swatch:${presets.swatch(item.colorKey)}`, "aria-hidden": "true" }) : null,
          title,
        ]),
        el("span", { class: "g-meta" }, [
          el("time", { datetime: item.createdAt || "" }, formatDate(item.createdAt)),
          el("a", {
            class: "g-download",
            href: item.imageUrl,
            download: `${item.angleKey}-${item.colorKey || "angle"}.png`,
            target: "_blank",
            rel: "noopener",
            "aria-label": `Download ${title}`,
          }, [icon("download"), "Download"]),
        ]),
      ]),
    ]);
    open.addEventListener("click", () => {
      const items = this.items.map((it) => lightboxItem(presets, it));
      this.ctx.openLightbox(items, Number(node.dataset.index), open);
    });
    return node;
  }

  /**
   * Scroll to, focus and highlight one image (by asset id, else by batch, angle and colour),
   * loading up to five more pages to find it. The view must be shown and loaded.
   */
  async reveal(assetId, batchId, angleKey, colorKey) {
    const grid = $("gallery-grid");
    const match = () =>
      grid.querySelector(`[data-asset-id="${CSS.escape(assetId)}"]`) ||
      grid.querySelector(
        `[data-batch-id="${CSS.escape(batchId)}"][data-angle-key="${CSS.escape(angleKey)}"][data-color-key="${CSS.escape(colorKey || "")}"]`,
      );
    let node = match();
    for (let pages = 0; !node && this.nextToken && pages < REVEAL_MAX_PAGES; pages += 1) {
      await this.load(false);
      node = match();
    }
    if (node) {
      node.classList.add("highlight");
      node.scrollIntoView({ block: "center", behavior: "smooth" });
      node.querySelector(".g-thumb")?.focus({ preventScroll: true });
      setTimeout(() => node.classList.remove("highlight"), HIGHLIGHT_MS);
    }
  }
}
