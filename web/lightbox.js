// The lightbox <dialog>: one full-size image with Download, previous/next (buttons and arrow keys),
// closed by Escape, the close button or a click on the backdrop; focus returns to its opener.

const $ = (id) => document.getElementById(id);

/** What the lightbox shows for a matrix cell or a gallery item. */
export function lightboxItem(presets, it) {
  return { title: presets.cellTitle(it), imageUrl: it.imageUrl || it.thumbUrl, name: `${it.angleKey}-${it.colorKey || "angle"}.png` };
}

export class Lightbox {
  constructor() {
    this.items = [];
    this.index = 0;
    this.opener = null;
  }

  get isOpen() {
    return $("lightbox").open;
  }

  wire() {
    const dlg = $("lightbox");
    $("lightbox-close").addEventListener("click", () => dlg.close());
    $("lightbox-prev").addEventListener("click", () => this.step(-1));
    $("lightbox-next").addEventListener("click", () => this.step(1));
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

  /** Show items[index] ({title, imageUrl, name}); `opener` gets the focus back on close. */
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
    const dl = $("lightbox-download");
    dl.href = item.imageUrl;
    dl.setAttribute("download", item.name);
    dl.target = "_blank";
    dl.rel = "noopener";
    $("lightbox-prev").hidden = $("lightbox-next").hidden = this.items.length < 2;
  }

  step(delta) {
    if (this.items.length < 2) return;
    this.index = (this.index + delta + this.items.length) % this.items.length;
    this.show();
  }
}
