// Step 1 of the form: source photos picked or dropped, checked (type, size, count, and at once by
// their bytes: photo_check.js sniffs the header, the browser decodes it), previewed, and uploaded
// before a batch (POST /uploads for presigned targets, then PUT the raw bytes, 4 at a time). A file
// that is not an image stays in the list, marked, with its name and the reason, until removed.

import { ApiError, putFile, uuid } from "./api.js";
import { el, icon } from "./dom.js";
import { plural } from "./labels.js";
import { toast } from "./notify.js";
import { DECODABLE, badPhotoMessage, sniffImageType } from "./photo_check.js";

export const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
const TYPE_BY_EXT = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", heic: "image/heic", heif: "image/heif" };
const UPLOAD_CONCURRENCY = 4;
const $ = (id) => document.getElementById(id);

/** The file's image type, from its MIME type or (when the browser gives none) its extension; else null. */
export function contentTypeOf(file) {
  if (ACCEPTED_TYPES.includes(file.type)) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  if ((!file.type || file.type === "application/octet-stream") && TYPE_BY_EXT[ext]) return TYPE_BY_EXT[ext];
  return null;
}

/** What the file's bytes are: {contentType} when usable, else {problem} (a reason key of photo_check.js). */
export async function inspectPhoto(file) {
  if (!file.size) return { problem: "empty" };
  let type;
  try {
    type = sniffImageType(new Uint8Array(await file.slice(0, 32).arrayBuffer()));
  } catch {
    return { problem: "undecodable" };
  }
  if (!type) return { problem: "not-image" };
  if (DECODABLE.has(type) && typeof createImageBitmap === "function") {
    try {
      const bitmap = await createImageBitmap(file);
      bitmap.close();
    } catch {
      return { problem: "undecodable" };
    }
  }
  return { contentType: type };
}

async function mapLimit(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class PhotoPicker {
  /**
   * @param {object} ctx  getConfig() -> page config (limits), isBusy() -> a batch is being
   *   started (no changes), onChange() -> the photo list changed
   */
  constructor(ctx) {
    this.ctx = ctx;
    this.photos = []; // {id, file, contentType, url, sourceImageUrl, status: checking|bad|ready|uploading|uploaded, problem}
  }

  wire() {
    $("photo-input").addEventListener("change", (e) => {
      this.add([...e.target.files]);
      e.target.value = "";
    });
    const zone = $("dropzone");
    let depth = 0;
    zone.addEventListener("dragenter", (e) => {
      e.preventDefault();
      depth += 1;
      zone.classList.add("dragging");
    });
    zone.addEventListener("dragover", (e) => {
      e.preventDefault();
      if (e.dataTransfer) e.dataTransfer.dropEffect = this.ctx.isBusy() ? "none" : "copy";
    });
    zone.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove("dragging");
    });
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      depth = 0;
      zone.classList.remove("dragging");
      if (!this.ctx.isBusy() && e.dataTransfer) this.add([...e.dataTransfer.files]);
    });
    // A photo dropped next to the drop zone must not navigate away from the page.
    window.addEventListener("dragover", (e) => e.preventDefault());
    window.addEventListener("drop", (e) => e.preventDefault());
  }

  render() {
    const busy = this.ctx.isBusy();
    $("thumbs").replaceChildren(
      ...this.photos.map((p) => {
        const img = el("img", { src: p.url, alt: "" });
        const ext = (p.file.name.split(".").pop() || "").toUpperCase();
        img.addEventListener("error", () => img.replaceWith(el("span", { class: "no-preview" }, ext || "IMG")), { once: true });
        const remove = el("button", { type: "button", class: "thumb-remove", "aria-label": `Remove ${p.file.name}`, title: "Remove" }, icon("x"));
        remove.disabled = busy;
        remove.addEventListener("click", () => this.remove(p.id));
        const badge = p.status === "checking"
          ? el("span", { class: "thumb-badge checking", "aria-label": "checking" }, el("span", { class: "spinner sm" }))
          : p.status === "bad"
            ? el("span", { class: "thumb-badge bad", "aria-label": "not usable" }, icon("alert"))
            : p.status === "uploading"
          ? el("span", { class: "thumb-badge uploading", "aria-label": "uploading" }, el("span", { class: "spinner sm" }))
          : p.status === "uploaded"
            ? el("span", { class: "thumb-badge done", "aria-label": "uploaded" }, icon("check"))
            : null;
        return el("li", { class: `thumb${p.status === "bad" ? " bad" : ""}`, title: p.file.name, "data-status": p.status }, [img, badge, remove]);
      }),
    );
    $("thumbs").hidden = this.photos.length === 0;
    const problems = this.photos.filter((p) => p.status === "bad");
    $("photo-problems").replaceChildren(...problems.map((p) => el("li", { "data-testid": "photo-problem" }, [icon("alert"), el("span", {}, p.problem)])));
    $("photo-problems").hidden = problems.length === 0;
  }

  add(files) {
    const cfg = this.ctx.getConfig() || {};
    const accepted = Array.isArray(cfg.acceptedContentTypes) && cfg.acceptedContentTypes.length ? cfg.acceptedContentTypes : ACCEPTED_TYPES;
    const maxBytes = Number(cfg.maxUploadBytes) || Infinity;
    const maxCount = Number(cfg.maxSourceImages) || Infinity;
    const skipped = [];
    const tooBig = [];
    let overflow = 0;
    for (const file of files) {
      const contentType = contentTypeOf(file);
      if (!contentType || !accepted.includes(contentType) || file.size === 0) {
        skipped.push(file.name);
        continue;
      }
      if (file.size > maxBytes) {
        tooBig.push(file.name);
        continue;
      }
      const dup = this.photos.some((p) => p.file.name === file.name && p.file.size === file.size && p.file.lastModified === file.lastModified);
      if (dup) continue;
      if (this.photos.length >= maxCount) {
        overflow += 1;
        continue;
      }
      const photo = { id: uuid(), file, contentType, url: URL.createObjectURL(file), sourceImageUrl: null, status: "checking", problem: null };
      this.photos.push(photo);
      this.check(photo);
    }
    if (skipped.length) toast(`Skipped ${skipped.join(", ")}: only JPEG, PNG, WebP or HEIC photos can be used.`, "error");
    if (tooBig.length) toast(`Skipped ${tooBig.join(", ")}: each photo must be at most ${Math.floor(maxBytes / 1048576)} MB.`, "error");
    if (overflow) toast(`Up to ${maxCount} photos per batch: ${plural(overflow, "photo")} not added.`, "error");
    this.render();
    this.ctx.onChange();
  }

  /** Look at the photo's bytes now, not at Generate: a bad one is marked with its name and reason. */
  async check(photo) {
    const result = await inspectPhoto(photo.file);
    if (!this.photos.includes(photo)) return;
    if (result.problem) {
      photo.status = "bad";
      photo.problem = badPhotoMessage(photo.file.name, result.problem);
    } else {
      photo.status = "ready";
      photo.contentType = result.contentType;
    }
    this.render();
    this.ctx.onChange();
  }

  /** Photos still being looked at, and the ones that cannot be used. */
  checking() {
    return this.photos.some((p) => p.status === "checking");
  }

  badPhotos() {
    return this.photos.filter((p) => p.status === "bad");
  }

  remove(id) {
    const i = this.photos.findIndex((p) => p.id === id);
    if (i < 0 || this.ctx.isBusy()) return;
    URL.revokeObjectURL(this.photos[i].url);
    this.photos.splice(i, 1);
    this.render();
    this.ctx.onChange();
    $("photo-input").focus();
  }

  /**
   * Upload those of `photos` not uploaded yet; each keeps its `sourceImageUrl`, so a retry after a
   * failed batch does not upload it again. `onProgress(label)` tells the form what to show.
   */
  async upload(api, photos, onProgress) {
    const todo = photos.filter((p) => !p.sourceImageUrl);
    if (!todo.length) return;
    onProgress("Preparing upload…");
    const answer = await api.createUploads(
      todo.map((p) => ({ filename: p.file.name, contentType: p.contentType, size: p.file.size })),
    );
    const uploads = answer.uploads || [];
    if (uploads.length !== todo.length) throw new ApiError("The server did not accept every photo for upload.");
    let done = 0;
    onProgress(`Uploading photos 0/${todo.length}…`);
    await mapLimit(todo, UPLOAD_CONCURRENCY, async (p, i) => {
      p.status = "uploading";
      this.render();
      try {
        await putFile(uploads[i], p.file);
      } catch (err) {
        p.status = "ready";
        throw err;
      }
      p.sourceImageUrl = uploads[i].sourceImageUrl;
      p.status = "uploaded";
      done += 1;
      onProgress(`Uploading photos ${done}/${todo.length}…`);
    });
  }
}
