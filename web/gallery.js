// The Gallery view, grouped by batch (GET /batches, newest first, "Load more" pages with
// nextToken): each group shows the batch's first source photo, its date, status, counts and cost,
// "Open in Studio" (reopen the batch), and its images (GET /api/gallery?batchId=), each opening the
// lightbox beside the batch's source photo; and revealing one image after "Save to Gallery".

import { el, icon } from "./dom.js";
import { formatUsd } from "./batch_outcome.js";
import { plural } from "./labels.js";
import { lightboxItem } from "./lightbox.js";
import { toastError } from "./notify.js";
import { saveUrl } from "./downloads.js";

const BATCHES_PAGE = 6;
const IMAGES_PAGE = 24;
const REVEAL_MAX_PAGES = 5;
const HIGHLIGHT_MS = 3000;
const $ = (id) => document.getElementById(id);

export const STATUS_BADGE = {
  running: ["Running", "running"],
  completed: ["Complete", "success"],
  completed_with_failures: ["With failures", "warning"],
  failed: ["Failed", "danger"],
  canceled: ["Cancelled", "canceled"],
};

export function formatDate(iso) {
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
   *   openLightbox(items, index, opener); openBatch(batchId)
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.groups = []; // {batch, images: [], nextToken, loading, node, grid, more}
    this.nextToken = null;
    this.loading = false;
    this.loaded = false;
  }

  wire() {
    $("gallery-more").addEventListener("click", () => this.load(false));
    $("gallery-refresh").addEventListener("click", () => this.load(true));
  }

  /** The first page of batches (reset) or the next one; each group then loads its images. */
  async load(reset) {
    const api = this.ctx.getApi();
    if (this.loading || !api) return;
    this.loading = true;
    if (reset) this.loaded = false;
    this.renderFrame();
    try {
      const res = await api.batches(reset ? null : this.nextToken, BATCHES_PAGE);
      if (reset) this.groups = [];
      const seen = new Set(this.groups.map((g) => g.batch.batchId));
      const added = [];
      for (const batch of res.items || []) {
        if (seen.has(batch.batchId)) continue;
        const group = { batch, images: [], nextToken: null, loading: false, loadedOnce: false };
        this.groups.push(group);
        added.push(group);
      }
      this.nextToken = res.nextToken || null;
      this.loaded = true;
      this.renderFrame();
      await Promise.all(added.map((g) => this.loadImages(g)));
    } catch (err) {
      toastError(err);
    } finally {
      this.loading = false;
      this.renderFrame();
    }
  }

  async loadImages(group) {
    const api = this.ctx.getApi();
    if (group.loading || !api) return;
    group.loading = true;
    this.renderGroup(group);
    try {
      const res = await api.gallery(group.loadedOnce ? group.nextToken : null, { batchId: group.batch.batchId, limit: IMAGES_PAGE });
      const seen = new Set(group.images.map((i) => i.assetId));
      for (const item of res.items || []) if (!seen.has(item.assetId)) group.images.push(item);
      group.nextToken = res.nextToken || null;
      group.loadedOnce = true;
    } catch (err) {
      toastError(err);
    } finally {
      group.loading = false;
      this.renderGroup(group);
    }
  }

  renderFrame() {
    const host = $("gallery-grid");
    host.setAttribute("aria-busy", String(this.loading));
    if (!this.loaded && this.loading) {
      host.replaceChildren(...Array.from({ length: 2 }, () => el("div", { class: "g-group skeleton", "aria-hidden": "true" })));
    } else {
      host.replaceChildren(...this.groups.map((g) => g.node || this.groupNode(g)));
    }
    $("gallery-empty").hidden = !(this.loaded && !this.groups.length);
    const more = $("gallery-more");
    more.hidden = !this.nextToken;
    more.disabled = this.loading;
    more.textContent = this.loading && this.loaded ? "Loading…" : "Load more batches";
  }

  groupNode(group) {
    const { batch } = group;
    const [badgeText, tone] = STATUS_BADGE[batch.status] || [batch.status, "running"];
    const c = batch.counts || {};
    const countParts = [plural(c.completed || 0, "image")];
    if (c.failed) countParts.push(`${c.failed} failed`);
    if (c.canceled) countParts.push(`${c.canceled} cancelled`);
    if (c.pending) countParts.push(`${c.pending} to go`);
    const cost = batch.cost && typeof batch.cost.costUsd === "number" ? formatUsd(batch.cost.costUsd) : "";
    const source = batch.sourceUrl
      ? el("img", { class: "g-source", src: batch.sourceUrl, alt: "First source photo of this batch", "data-testid": "group-source" })
      : el("span", { class: "g-source none", "aria-hidden": "true" }, icon("image"));
    const open = el("button", { type: "button", class: "btn small", "data-testid": "open-batch", "aria-label": `Open the batch of ${formatDate(batch.createdAt)} in the Studio` }, "Open in Studio");
    open.addEventListener("click", () => this.ctx.openBatch(batch.batchId));
    group.grid = el("div", { class: "g-images" });
    group.more = el("button", { type: "button", class: "btn small", hidden: true }, "Show more images");
    group.more.addEventListener("click", () => this.loadImages(group));
    group.node = el("section", { class: "g-group", "data-testid": "gallery-group", "data-batch-id": batch.batchId, "aria-label": `Batch of ${formatDate(batch.createdAt)}` }, [
      el("header", { class: "g-group-head" }, [
        source,
        el("div", { class: "g-group-text" }, [
          el("h3", { class: "g-group-title" }, [
            el("time", { datetime: batch.createdAt || "" }, formatDate(batch.createdAt) || "Batch"),
            el("span", { class: `status-badge ${tone}`, "data-testid": "group-status", "data-status": batch.status }, badgeText),
          ]),
          el("p", { class: "g-group-meta muted" }, `${countParts.join(" · ")}${cost ? ` · ${cost}` : ""}`),
        ]),
        open,
      ]),
      group.grid,
      el("div", { class: "g-group-foot" }, group.more),
    ]);
    this.renderGroup(group);
    return group.node;
  }

  renderGroup(group) {
    if (!group.grid) return;
    const existing = new Map([...group.grid.querySelectorAll("[data-testid=gallery-item]")].map((n) => [n.dataset.assetId, n]));
    const nodes = group.images.map((item) => existing.get(item.assetId) || this.itemNode(group, item));
    if (!nodes.length) {
      group.grid.replaceChildren(el("p", { class: "g-none muted" }, group.loading || !group.loadedOnce ? "Loading images…" : "No images in this batch yet."));
    } else {
      group.grid.replaceChildren(...nodes);
    }
    group.grid.querySelectorAll("[data-testid=gallery-item]").forEach((n, i) => (n.dataset.index = String(i)));
    group.more.hidden = !group.nextToken;
    group.more.disabled = group.loading;
  }

  itemNode(group, item) {
    const { presets } = this.ctx;
    const title = presets.cellTitle(item);
    const img = el("img", { src: item.thumbUrl || item.imageUrl, alt: `${title}, studio image`, loading: "lazy" });
    const open = el("button", { type: "button", class: "g-thumb", "aria-label": `Open ${title} full size` }, img);
    const name = `${item.angleKey}-${item.colorKey || "angle"}.png`;
    const download = el("button", { type: "button", class: "g-download text-btn", "aria-label": `Download ${title}` }, [icon("download"), "Download"]);
    download.addEventListener("click", async () => {
      download.disabled = true;
      try {
        await saveUrl(item.imageUrl, name);
      } catch (err) {
        toastError(err);
      } finally {
        download.disabled = false;
      }
    });
    const node = el("figure", {
      class: "g-item",
      "data-testid": "gallery-item",
      "data-asset-id": item.assetId,
      "data-batch-id": item.batchId || "",
      "data-angle-key": item.angleKey || "",
      "data-color-key": item.colorKey || "",
    }, [
      open,
      el("figcaption", {}, [
        el("span", { class: "g-title" }, [
          item.colorKey ? el("span", { class: "swatch sm", style: `--swatch:${presets.swatch(item.colorKey)}`, "aria-hidden": "true" }) : null,
          el("span", { class: "g-title-text" }, title),
        ]),
        el("span", { class: "g-meta" }, [el("time", { datetime: item.createdAt || "" }, formatDate(item.createdAt)), download]),
      ]),
    ]);
    open.addEventListener("click", () => {
      const sources = group.batch.sourceUrl ? [group.batch.sourceUrl] : [];
      const items = group.images.map((it) => lightboxItem(presets, it, sources));
      this.ctx.openLightbox(items, Number(node.dataset.index), open);
    });
    return node;
  }

  /**
   * Scroll to, focus and highlight one image (by asset id, else by batch, angle and colour),
   * loading more of its batch's images to find it. The view must be shown and loaded.
   */
  async reveal(assetId, batchId, angleKey, colorKey) {
    const host = $("gallery-grid");
    const match = () =>
      host.querySelector(`[data-asset-id="${CSS.escape(assetId)}"]`) ||
      host.querySelector(
        `[data-batch-id="${CSS.escape(batchId)}"][data-angle-key="${CSS.escape(angleKey)}"][data-color-key="${CSS.escape(colorKey || "")}"]`,
      );
    let node = match();
    for (let pages = 0; !node && pages < REVEAL_MAX_PAGES; pages += 1) {
      const group = this.groups.find((g) => g.batch.batchId === batchId);
      if (group && group.nextToken) await this.loadImages(group);
      else if (!group && this.nextToken) await this.load(false);
      else break;
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
