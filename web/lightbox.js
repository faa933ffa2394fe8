// The lightbox <dialog>: one full-size image with Download (saves the file), the batch's source
// photos beside it (a toggle; below the image on a phone), previous/next (buttons and arrow
// keys), closed by Escape, the close button or a click on the backdrop; focus returns to its opener.

import { el } from "./dom.js";
import { toastError } from "./notify.js";
import { saveUrl } from "./downloads.js";

const $ = (id) => document.getElementById(id);

/** What the lightbox shows for a matrix cell or a gallery item; `sources`: the batch's source photo URLs. */
export function lightboxItem(presets, it, sources = []) {
  return {
    title: presets.cellTitle(it),
    imageUrl: it.imageUrl || it.thumbUrl,
    name: `${it.angleKey}-${it.colorKey || "angle"}.png`,
    sources: sources.filter(Boolean),
  };
}

export class Lightbox {
  constructor() {
    this.items = [];
    this.index = 0;
    this.opener = null;
    this.showSources = !window.matchMedia("(max-width: 800px)").matches;
  }

  get isOpen() {
    return $("lightbox").open;
  }

  wire() {
    const dlg = $("lightbox");
    $("lightbox-close").addEventListener("click", () => dlg.close());
    $("lightbox-prev").addEventListener("click", () => this.step(-1));
    $("lightbox-next").addEventListener("click", () => this.step(1));
    $("lightbox-sources-toggle").addEventListener("click", () => {
      this.showSources = !this.showSources;
      this.show();
    });
    $("lightbox-download").addEventListener("click", async () => {
      const item = this.items[this.index];
      const button = $("lightbox-download");
      button.disabled = true;
      try {
        await saveUrl(item.imageUrl, item.name);
      } catch (err) {
        toastError(err);
      } finally {
        button.disabled = false;
      }
    });
    dlg.addEventListener("click", (e) => {
      if (e.target === dlg) dlg.close(); // backdrop
    });
    dlg.addEventListener("keydown", (e) => {
      if (e.key === "ArrowLeft") this.step(-1);
      if (e.key === "ArrowRight") this.step(1);
    });
    dlg.addEventListener("close", () => {
      $("lightbox-img").removeAttribute("src");
      const opener = this.opener;
      if (opener && opener.isConnected) opener.focus();
    });
  }

  /** Show items[index] ({title, imageUrl, name, sources}); `opener` gets the focus back on close. */
  open(items, index, opener) {
    if (!items.length) return;
    this.items = items;
    this.index = Math.max(0, Math.min(index, items.length - 1));
    this.opener = opener || document.activeElement;
    this.show();
    const dlg = $("lightbox");
    if (!dlg.open) dlg.showModal();
    $("lightbox-close").focus();
  }

  show() {
    const item = this.items[this.index];
    $("lightbox-title").textContent = item.title;
    const img = $("lightbox-img");
    img.src = item.imageUrl;
    img.alt = `${item.title}, full size`;
    $("lightbox-prev").hidden = $("lightbox-next").hidden = this.items.length < 2;
    const sources = item.sources || [];
    const toggle = $("lightbox-sources-toggle");
    toggle.hidden = sources.length === 0;
    toggle.setAttribute("aria-pressed", String(this.showSources));
    toggle.textContent = this.showSources ? "Hide source photos" : `Source photos (${sources.length})`;
    const panel = $("lightbox-sources");
    const visible = this.showSources && sources.length > 0;
    panel.hidden = !visible;
    $("lightbox").classList.toggle("with-sources", visible);
    if (visible && panel.dataset.urls !== sources.join(" ")) {
      panel.dataset.urls = sources.join(" ");
      panel.replaceChildren(
        el("h3", { class: "sources-title" }, "Source photos"),
        ...sources.map((url, i) => el("img", { src: url, alt: `Source photo ${i + 1}`, "data-testid": "lightbox-source", loading: "lazy" })),
      );
    }
  }

  step(delta) {
    if (this.items.length < 2) return;
    this.index = (this.index + delta + this.items.length) % this.items.length;
    this.show();
  }
}
