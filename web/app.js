// Car Marketplace page: set-up form (left), live angle × colour matrix (centre), jobs tray (right),
// and a gallery view. Talks to the API described in shared/DESIGN.md.

import { Api, ApiError, loadConfig, putFile, uuid } from "./api.js";
import { el, icon } from "./dom.js";
import { MatrixView, TERMINAL, assetIdOf, cellKey } from "./matrix.js";
import { LiveSocket } from "./ws.js";

const params = new URLSearchParams(location.search);
const DEBUG = params.get("debug") === "1";
function debug(message, ...rest) {
  if (DEBUG) console.debug(`[MP] ${message}`, ...rest);
}

const ACCEPTED_TYPES = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"];
const TYPE_BY_EXT = { jpg: "image/jpeg", jpeg: "image/jpeg", png: "image/png", webp: "image/webp", heic: "image/heic", heif: "image/heif" };
const RANK = { queued: 0, processing: 1, completed: 2, failed: 2 };
const UPLOAD_CONCURRENCY = 4;
const SMALL_SCREEN = window.matchMedia("(max-width: 800px)");
const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  api: null,
  live: null,
  presetsLoaded: false,
  angles: [],
  colors: [],
  angleByKey: new Map(),
  colorByKey: new Map(),
  photos: [], // {id, file, contentType, url, sourceImageUrl, status: ready|uploading|uploaded}
  selAngles: new Set(),
  selColors: new Set(),
  auto: true,
  busy: false,
  busyLabel: "",
  awaitingBatch: false,
  pending: new Map(), // batchId -> events that arrived while our POST /batch was in flight
  idem: null, // {sig, key}: the same request body reuses its Idempotency-Key
  batch: null,
  colorizing: new Set(),
  saved: loadSaved(),
  gallery: { items: [], nextToken: null, loading: false, loaded: false },
  view: "studio",
  lightbox: { items: [], index: 0, opener: null },
};

// ------------------------------------------------------------------ labels & colours

const prettify = (key) => String(key || "").replace(/[_-]+/g, " ").replace(/\b\w/g, (m) => m.toUpperCase());
const angleLabel = (k) => state.angleByKey.get(k)?.angleLabel || prettify(k);
const angleDesc = (k) => state.angleByKey.get(k)?.angleDesc || "";
const colorLabel = (k) => state.colorByKey.get(k)?.colorLabel || prettify(k);
const cellTitle = (c) => `${angleLabel(c.angleKey)}${c.colorKey ? " · " + colorLabel(c.colorKey) : ""}`;

const NAMED_COLOURS = [
  ["black", "#16181c"], ["onyx", "#16181c"], ["white", "#f4f4f1"], ["pearl", "#f1f0ea"], ["silver", "#c3c7cd"],
  ["grey", "#7c828b"], ["gray", "#7c828b"], ["graphite", "#4a4f57"], ["red", "#b3121f"], ["blue", "#1f4fa3"],
  ["navy", "#1c2b57"], ["green", "#1f6b45"], ["yellow", "#f2c230"], ["orange", "#e56a1c"], ["gold", "#c9a54a"],
  ["bronze", "#8c5a2b"], ["brown", "#6b4430"], ["beige", "#d8c7a6"], ["purple", "#6a3fa0"], ["teal", "#1d8080"],
];

/** CSS colour for a colour preset: the #RRGGBB in promptValue, else a guess from its name. */
function swatch(key) {
  const c = state.colorByKey.get(key);
  const hex = c && /#[0-9a-fA-F]{6}\b/.exec(c.promptValue || "");
  if (hex) return hex[0];
  const words = `${key} ${c?.colorLabel || ""} ${c?.promptValue || ""}`.toLowerCase();
  const named = NAMED_COLOURS.find(([name]) => words.includes(name));
  return named ? named[1] : "conic-gradient(#e0e3e8 0 25%, #c5cad2 0 50%, #e0e3e8 0 75%, #c5cad2 0)";
}

// ------------------------------------------------------------------ small utilities

function loadSaved() {
  try {
    return new Set(JSON.parse(localStorage.getItem("mpSaved") || "[]"));
  } catch {
    return new Set();
  }
}

function persistSaved() {
  try {
    localStorage.setItem("mpSaved", JSON.stringify([...state.saved].slice(-500)));
  } catch {
    /* storage may be unavailable */
  }
}

function readToken() {
  try {
    return localStorage.getItem("mpToken") || null;
  } catch {
    return null;
  }
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function urlWith(changes) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  return url.toString();
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

function contentTypeOf(file) {
  if (ACCEPTED_TYPES.includes(file.type)) return file.type;
  const ext = (file.name.split(".").pop() || "").toLowerCase();
  if ((!file.type || file.type === "application/octet-stream") && TYPE_BY_EXT[ext]) return TYPE_BY_EXT[ext];
  return null;
}

function formatDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleString(undefined, {
    month: "short", day: "numeric", ...(sameYear ? {} : { year: "numeric" }), hour: "numeric", minute: "2-digit",
  });
}

// ------------------------------------------------------------------ toasts & banner

function toast(message, kind = "info", { timeout = kind === "error" ? 8000 : 4500 } = {}) {
  const node = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status", "data-testid": "toast" }, [
    icon(kind === "error" ? "alert" : "check"),
    el("span", { class: "toast-msg" }, message),
  ]);
  const close = el("button", { type: "button", class: "icon-btn toast-close", "aria-label": "Dismiss" }, icon("x"));
  node.append(close);
  const remove = () => {
    node.classList.add("leaving");
    setTimeout(() => node.remove(), 200);
  };
  close.addEventListener("click", remove);
  $("toasts").append(node);
  while ($("toasts").children.length > 3) $("toasts").firstElementChild.remove();
  setTimeout(remove, timeout);
}

function toastError(err) {
  toast(err instanceof ApiError ? err.message : "Something went wrong. Please try again.", "error");
}

let retryAction = null;
function showLoadError(message, retry) {
  retryAction = retry;
  $("load-error").querySelector(".banner-text").textContent = message;
  $("load-error").hidden = false;
}
function hideLoadError() {
  $("load-error").hidden = true;
}

// ------------------------------------------------------------------ left panel

function renderPresets() {
  const angleList = $("angle-list");
  angleList.removeAttribute("aria-busy");
  angleList.replaceChildren(
    ...state.angles.map((a) => {
      const input = el("input", { type: "checkbox", value: a.angleKey, "data-testid": `angle-${a.angleKey}` });
      input.checked = state.selAngles.has(a.angleKey);
      input.addEventListener("change", () => {
        if (input.checked) state.selAngles.add(a.angleKey);
        else state.selAngles.delete(a.angleKey);
        updateForm();
      });
      return el("label", { class: "check-row" }, [
        input,
        el("span", { class: "check-text" }, [
          el("span", { class: "check-title" }, a.angleLabel || prettify(a.angleKey)),
          a.angleDesc ? el("span", { class: "check-desc" }, a.angleDesc) : null,
        ]),
      ]);
    }),
  );
  if (!state.angles.length) angleList.append(el("p", { class: "hint" }, "No angles are enabled."));

  const colorList = $("color-list");
  colorList.removeAttribute("aria-busy");
  colorList.replaceChildren(
    ...state.colors.map((c) => {
      const input = el("input", { type: "checkbox", value: c.colorKey, "data-testid": `color-${c.colorKey}` });
      input.checked = state.selColors.has(c.colorKey);
      input.addEventListener("change", () => {
        if (input.checked) state.selColors.add(c.colorKey);
        else state.selColors.delete(c.colorKey);
        updateForm();
      });
      return el("label", { class: "color-chip", title: c.promptValue || "" }, [
        input,
        el("span", { class: "swatch", style: `--swatch:${swatch(c.colorKey)}`, "aria-hidden": "true" }),
        el("span", { class: "chip-label" }, c.colorLabel || prettify(c.colorKey)),
      ]);
    }),
  );
  if (!state.colors.length) colorList.append(el("p", { class: "hint" }, "No colours are enabled."));
}

function syncChecks() {
  for (const input of $("angle-list").querySelectorAll("input")) input.checked = state.selAngles.has(input.value);
  for (const input of $("color-list").querySelectorAll("input")) input.checked = state.selColors.has(input.value);
  $("auto-colorize").checked = state.auto;
}

function toggleAll(set, items, keyName) {
  if (set.size === items.length) set.clear();
  else for (const item of items) set.add(item[keyName]);
  syncChecks();
  updateForm();
}

function renderThumbs() {
  $("thumbs").replaceChildren(
    ...state.photos.map((p) => {
      const img = el("img", { src: p.url, alt: "" });
      const ext = (p.file.name.split(".").pop() || "").toUpperCase();
      img.addEventListener("error", () => img.replaceWith(el("span", { class: "no-preview" }, ext || "IMG")), { once: true });
      const remove = el("button", { type: "button", class: "thumb-remove", "aria-label": `Remove ${p.file.name}`, title: "Remove" }, icon("x"));
      remove.disabled = state.busy;
      remove.addEventListener("click", () => removePhoto(p.id));
      const badge = p.status === "uploading"
        ? el("span", { class: "thumb-badge uploading", "aria-label": "uploading" }, el("span", { class: "spinner sm" }))
        : p.status === "uploaded"
          ? el("span", { class: "thumb-badge done", "aria-label": "uploaded" }, icon("check"))
          : null;
      return el("li", { class: "thumb", title: p.file.name }, [img, badge, remove]);
    }),
  );
  $("thumbs").hidden = state.photos.length === 0;
}

function addFiles(files) {
  const cfg = state.config || {};
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
    const dup = state.photos.some((p) => p.file.name === file.name && p.file.size === file.size && p.file.lastModified === file.lastModified);
    if (dup) continue;
    if (state.photos.length >= maxCount) {
      overflow += 1;
      continue;
    }
    state.photos.push({ id: uuid(), file, contentType, url: URL.createObjectURL(file), sourceImageUrl: null, status: "ready" });
  }
  if (skipped.length) toast(`Skipped ${skipped.join(", ")}: only JPEG, PNG, WebP or HEIC photos can be used.`, "error");
  if (tooBig.length) toast(`Skipped ${tooBig.join(", ")}: each photo must be at most ${Math.floor(maxBytes / 1048576)} MB.`, "error");
  if (overflow) toast(`Up to ${maxCount} photos per batch: ${plural(overflow, "photo")} not added.`, "error");
  renderThumbs();
  updateForm();
}

function removePhoto(id) {
  const i = state.photos.findIndex((p) => p.id === id);
  if (i < 0 || state.busy) return;
  URL.revokeObjectURL(state.photos[i].url);
  state.photos.splice(i, 1);
  renderThumbs();
  updateForm();
  $("photo-input").focus();
}

function selectedAngles() {
  return state.angles.map((a) => a.angleKey).filter((k) => state.selAngles.has(k));
}
function selectedColors() {
  return state.colors.map((c) => c.colorKey).filter((k) => state.selColors.has(k));
}

function updateForm() {
  const A = selectedAngles().length;
  const C = selectedColors().length;
  $("output-info").textContent = state.auto
    ? `${plural(A, "angle")} + ${plural(A * C, "colour variant")} = ${plural(A + A * C, "image")}`
    : `${plural(A, "angle")} = ${plural(A, "image")} (colours later)`;

  const reasons = [];
  if (!state.presetsLoaded) reasons.push("Loading angles and colours…");
  else {
    if (!state.photos.length) reasons.push("Add at least one photo");
    if (!A) reasons.push("Pick at least one angle");
  }
  const button = $("generate");
  button.textContent = state.busy
    ? state.busyLabel
    : state.auto
      ? `Generate ${A} Angles → ${C} Colors each`
      : `Generate ${A} Angles (colors later)`;
  button.disabled = state.busy || reasons.length > 0;
  button.setAttribute("aria-busy", String(state.busy));
  button.classList.toggle("is-busy", state.busy);
  $("generate-reason").textContent = state.busy ? "" : reasons.join(" · ");
  $("angles-all").textContent = A && A === state.angles.length ? "Clear" : "Select all";
  $("colors-all").textContent = C && C === state.colors.length ? "Clear" : "Select all";
  $("photo-input").disabled = state.busy;
  if (state.batch && !state.batch.autoColorize) renderBatch();
}

function setBusy(busy, label = "") {
  state.busy = busy;
  state.busyLabel = label;
  renderThumbs();
  updateForm();
}

// ------------------------------------------------------------------ generate

async function generate() {
  if (state.busy || $("generate").disabled) return;
  const photos = state.photos.slice();
  const angles = selectedAngles();
  const colors = selectedColors();
  const autoColorize = state.auto;
  try {
    const todo = photos.filter((p) => !p.sourceImageUrl);
    if (todo.length) {
      setBusy(true, "Preparing upload…");
      const answer = await state.api.createUploads(
        todo.map((p) => ({ filename: p.file.name, contentType: p.contentType, size: p.file.size })),
      );
      const uploads = answer.uploads || [];
      if (uploads.length !== todo.length) throw new ApiError("The server did not accept every photo for upload.");
      let done = 0;
      setBusy(true, `Uploading photos 0/${todo.length}…`);
      await mapLimit(todo, UPLOAD_CONCURRENCY, async (p, i) => {
        p.status = "uploading";
        renderThumbs();
        try {
          await putFile(uploads[i], p.file);
        } catch (err) {
          p.status = "ready";
          throw err;
        }
        p.sourceImageUrl = uploads[i].sourceImageUrl;
        p.status = "uploaded";
        done += 1;
        setBusy(true, `Uploading photos ${done}/${todo.length}…`);
      });
    }
    const body = { sourceImageUrls: photos.map((p) => p.sourceImageUrl), angles, colors, autoColorize };
    const sig = JSON.stringify(body);
    if (!state.idem || state.idem.sig !== sig) state.idem = { sig, key: uuid() };
    debug(`batch body: ${body.sourceImageUrls.length} photos, ${angles.length} angles, ${colors.length} colours, autoColorize=${autoColorize}`, body);
    setBusy(true, "Starting batch…");
    state.awaitingBatch = true;
    const res = await state.api.createBatch(body, state.idem.key);
    state.idem = null;
    for (const c of res.cells || []) debug(`enqueue ${c.type} angle=${c.angleKey} color=${c.colorKey || "-"}`);
    startBatch(res, body);
    toast("Batch started", "success");
    if (SMALL_SCREEN.matches) $("matrix-title").scrollIntoView({ behavior: "smooth", block: "start" });
  } catch (err) {
    toastError(err);
  } finally {
    state.awaitingBatch = false;
    state.pending.clear();
    setBusy(false);
  }
}

// ------------------------------------------------------------------ batch model

function newBatch({ batchId, angles = [], colors = [], autoColorize = true, status = "running", totalJobs = 0 }) {
  return {
    batchId,
    angles: [...angles],
    colors: [...colors],
    autoColorize: autoColorize !== false,
    status,
    totalJobs,
    cells: new Map(),
    serverCompleted: status === "completed",
    sawRunning: false,
    announced: false,
  };
}

/** Merge one cell report, forward only (a late or duplicate event never undoes progress). */
function mergeCell(batch, r, { synthetic = false } = {}) {
  if (!r || !r.angleKey) return false;
  const colorKey = r.colorKey || null;
  const key = cellKey(r.angleKey, colorKey);
  const cur = batch.cells.get(key);
  const status = r.status in RANK ? r.status : "queued";
  if (cur && !synthetic) cur.synthetic = false;
  if (cur) {
    if (TERMINAL.has(cur.status) || RANK[status] < RANK[cur.status]) {
      let changed = false; // a terminal cell can still learn a URL it was missing
      if (status === cur.status && r.imageUrl && !cur.imageUrl) (cur.imageUrl = r.imageUrl), (changed = true);
      if (status === cur.status && r.thumbUrl && !cur.thumbUrl) (cur.thumbUrl = r.thumbUrl), (changed = true);
      return changed;
    }
    const same = cur.status === status && (r.imageUrl || null) === cur.imageUrl && (r.thumbUrl || null) === cur.thumbUrl && (r.error || null) === cur.error;
    if (same) return false;
  }
  batch.cells.set(key, {
    type: r.type || (colorKey ? "color" : "angle"),
    angleKey: r.angleKey,
    colorKey,
    status,
    imageUrl: r.imageUrl || cur?.imageUrl || null,
    thumbUrl: r.thumbUrl || cur?.thumbUrl || null,
    error: r.error || null,
    synthetic: cur ? cur.synthetic : synthetic,
  });
  if (!TERMINAL.has(status)) batch.sawRunning = true;
  if (!colorKey && status === "failed") {
    for (const c of batch.cells.values()) {
      if (c.synthetic && c.angleKey === r.angleKey && c.colorKey && !TERMINAL.has(c.status)) {
        c.status = "failed";
        c.error = "Not generated: the angle shot failed.";
      }
    }
  }
  return true;
}

/** With auto-colorize every angle × colour cell exists from the start: show it even before we hear of it. */
function ensurePlaceholders(batch) {
  if (!batch.autoColorize) return;
  for (const a of batch.angles) {
    if (!batch.cells.has(cellKey(a, null))) mergeCell(batch, { type: "angle", angleKey: a, colorKey: null, status: "queued" }, { synthetic: true });
    for (const c of batch.colors) {
      if (!batch.cells.has(cellKey(a, c))) mergeCell(batch, { type: "color", angleKey: a, colorKey: c, status: "queued" }, { synthetic: true });
    }
  }
}

function applySnapshot(batch, snap) {
  if (Array.isArray(snap.angles)) batch.angles = [...new Set([...snap.angles, ...batch.angles])];
  if (Array.isArray(snap.colors)) batch.colors = [...new Set([...snap.colors, ...batch.colors])];
  if (typeof snap.autoColorize === "boolean") batch.autoColorize = snap.autoColorize;
  if (typeof snap.totalJobs === "number") batch.totalJobs = snap.totalJobs;
  for (const c of snap.cells || []) mergeCell(batch, c);
  ensurePlaceholders(batch);
  if (snap.status) batch.status = snap.status;
  if (snap.status === "completed") markServerCompleted(batch);
}

function markServerCompleted(batch) {
  batch.serverCompleted = true;
  for (const [key, c] of batch.cells) {
    if (c.synthetic && !TERMINAL.has(c.status)) batch.cells.delete(key); // the server never made this cell
  }
}

function counts(batch) {
  let completed = 0;
  let failed = 0;
  let active = 0;
  for (const c of batch.cells.values()) {
    if (c.status === "completed") completed += 1;
    else if (c.status === "failed") failed += 1;
    else active += 1;
  }
  return { completed, failed, active, total: batch.cells.size };
}

function startBatch(res, body) {
  const batch = newBatch({
    batchId: res.batchId,
    angles: body.angles,
    colors: body.colors,
    autoColorize: body.autoColorize,
    totalJobs: res.totalJobs || 0,
  });
  for (const c of res.cells || []) mergeCell(batch, c);
  ensurePlaceholders(batch);
  batch.sawRunning = true;
  history.replaceState(history.state, "", urlWith({ batch: res.batchId }));
  setCurrentBatch(batch);
}

function setCurrentBatch(batch) {
  state.batch = batch;
  state.colorizing.clear();
  resetTray();
  const early = state.pending.get(batch.batchId) || [];
  state.pending.clear();
  for (const msg of early) applyEvent(batch, msg);
  renderBatch();
  state.live?.subscribe(batch.batchId);
}

async function refreshSnapshot(reason) {
  const batch = state.batch;
  if (!batch || !state.api) return;
  debug(`catch-up GET batch ${batch.batchId} (${reason})`);
  try {
    const snap = await state.api.getBatch(batch.batchId);
    if (state.batch !== batch) return;
    applySnapshot(batch, snap);
    renderBatch();
  } catch (err) {
    if (err.status === 404) toastError(err);
    debug(`catch-up failed: ${err.message}`);
  }
}

async function restoreBatch(batchId) {
  try {
    const snap = await state.api.getBatch(batchId);
    const batch = newBatch({ batchId: snap.batchId || batchId, status: snap.status || "running" });
    applySnapshot(batch, snap);
    state.selAngles = new Set(batch.angles.filter((k) => state.angleByKey.has(k)));
    state.selColors = new Set(batch.colors.filter((k) => state.colorByKey.has(k)));
    state.auto = batch.autoColorize;
    syncChecks();
    updateForm();
    setCurrentBatch(batch);
    debug(`restored batch ${batch.batchId}: ${batch.cells.size} cells`);
  } catch (err) {
    toastError(err);
    history.replaceState(history.state, "", urlWith({ batch: null }));
  }
}

// ------------------------------------------------------------------ live events

function onSocketMessage(msg) {
  const data = msg.data || {};
  const batchId = data.batchId;
  if (!batchId) return;
  const batch = state.batch;
  if (!batch || batch.batchId !== batchId) {
    if (state.awaitingBatch) {
      // Possibly our own batch, whose 202 answer has not arrived yet.
      const list = state.pending.get(batchId) || [];
      if (list.length < 1000) list.push(msg);
      state.pending.set(batchId, list);
    } else {
      debug(`ignored ${msg.type} for other batch ${batchId}`);
    }
    return;
  }
  if (applyEvent(batch, msg)) renderBatch();
}

function applyEvent(batch, msg) {
  const data = msg.data || {};
  switch (msg.type) {
    case "marketplaceBatchCreated":
      if (typeof data.totalJobs === "number") batch.totalJobs = data.totalJobs;
      return false;
    case "marketplaceJobUpdated": {
      const r = data.result || {};
      debug(`job ${r.type} angle=${r.angleKey} color=${r.colorKey || "-"} → ${r.status}`);
      return mergeCell(batch, r);
    }
    case "marketplaceBatchCompleted": {
      debug(`batch completed ${batch.batchId}`);
      batch.status = "completed";
      const real = [...batch.cells.values()].filter((c) => !c.synthetic);
      if (real.some((c) => !TERMINAL.has(c.status))) refreshSnapshot("completed event while cells open");
      else markServerCompleted(batch);
      return true;
    }
    default:
      return false;
  }
}

function setConnectionState(s) {
  const node = $("conn");
  node.dataset.state = s;
  node.querySelector(".conn-label").textContent = s === "open" ? "Live" : s === "reconnecting" ? "Reconnecting…" : "Connecting…";
  node.title = s === "open" ? "Live updates connected" : "Live updates are reconnecting; results are caught up automatically.";
}

// ------------------------------------------------------------------ rendering the batch

let matrix = null;

function renderBatch() {
  const batch = state.batch;
  matrix.render(batch);
  renderProgress(batch);
  renderTray(batch);
}

function renderProgress(batch) {
  const wrap = $("progress-wrap");
  const status = $("batch-status");
  if (!batch) {
    wrap.hidden = true;
    status.textContent = "No batch yet";
    return;
  }
  const { completed, failed, active, total } = counts(batch);
  const done = completed + failed;
  wrap.hidden = false;
  $("batch-progress").textContent = `${done} / ${total} done`;
  const bar = $("progress");
  bar.setAttribute("aria-valuemax", String(total));
  bar.setAttribute("aria-valuenow", String(done));
  bar.setAttribute("aria-valuetext", `${done} of ${total} images done`);
  $("progress-bar").style.width = total ? `${(100 * done) / total}%` : "0%";
  const complete = total > 0 && active === 0;
  wrap.classList.toggle("complete", complete);
  status.dataset.state = complete ? "complete" : "running";
  if (complete) {
    const text = `Batch complete: ${plural(completed, "image")}${failed ? `, ${failed} failed` : ""}`;
    status.textContent = text;
    if (batch.sawRunning && !batch.announced) {
      batch.announced = true;
      toast(text, failed ? "info" : "success");
    }
  } else {
    batch.announced = false;
    const processing = [...batch.cells.values()].filter((c) => c.status === "processing").length;
    status.textContent = `Generating ${plural(total, "image")}${processing ? ` · ${processing} in progress` : ""}`;
  }
}

// ------------------------------------------------------------------ jobs tray

const trayItems = new Map(); // key -> {node, status, timer}

function resetTray() {
  for (const item of trayItems.values()) clearTimeout(item.timer);
  trayItems.clear();
  $("jobs-list").replaceChildren();
}

function trayItem(cell) {
  const lead = cell.colorKey
    ? el("span", { class: "swatch", style: `--swatch:${swatch(cell.colorKey)}`, "aria-hidden": "true" })
    : el("span", { class: "job-angle-icon", "aria-hidden": "true" }, icon("image"));
  return el("li", { class: "job", "data-testid": "jobs-item", "data-key": cellKey(cell.angleKey, cell.colorKey) }, [
    lead,
    el("span", { class: "job-text" }, [
      el("span", { class: "job-title" }, angleLabel(cell.angleKey)),
      el("span", { class: "job-sub" }, cell.colorKey ? colorLabel(cell.colorKey) : "Angle shot"),
    ]),
    el("span", { class: "job-status" }),
  ]);
}

function setTrayStatus(item, cell) {
  if (item.status === cell.status) return;
  item.status = cell.status;
  item.node.dataset.status = cell.status;
  const s = item.node.querySelector(".job-status");
  if (cell.status === "processing") s.replaceChildren(el("span", { class: "spinner sm", "aria-hidden": "true" }), "Generating");
  else if (cell.status === "failed") s.replaceChildren(icon("alert"), "Failed");
  else s.replaceChildren("Queued");
  if (cell.status === "failed") item.node.title = cell.error || "";
}

function leaveTray(key, delay) {
  const item = trayItems.get(key);
  if (!item || item.leaving) return;
  item.leaving = true;
  item.timer = setTimeout(() => {
    item.node.dataset.leaving = "true";
    item.node.classList.add("leaving");
    setTimeout(() => {
      item.node.remove();
      if (trayItems.get(key) === item) trayItems.delete(key);
      updateTrayCount();
    }, 260);
  }, delay);
}

function renderTray(batch) {
  const list = $("jobs-list");
  if (!batch) {
    resetTray();
    updateTrayCount();
    return;
  }
  for (const cell of batch.cells.values()) {
    const key = cellKey(cell.angleKey, cell.colorKey);
    let item = trayItems.get(key);
    if (!TERMINAL.has(cell.status)) {
      if (!item) {
        item = { node: trayItem(cell), status: null, timer: null, leaving: false };
        trayItems.set(key, item);
        list.append(item.node);
      }
      setTrayStatus(item, cell);
    } else if (item && !item.leaving) {
      setTrayStatus(item, cell);
      leaveTray(key, cell.status === "failed" ? 4000 : 0);
    }
  }
  // processing first, then queued, in matrix order
  const live = [...list.children].filter((n) => n.dataset.status === "processing");
  for (const n of live.reverse()) list.prepend(n);
  updateTrayCount();
}

function updateTrayCount() {
  const batch = state.batch;
  const active = batch ? counts(batch).active : 0;
  $("tray-count").textContent = String(active);
  $("jobs-toggle").textContent = `Jobs (${active})`;
  $("jobs-toggle").classList.toggle("has-jobs", active > 0);
  $("tray-empty").hidden = $("jobs-list").children.length > 0;
}

function openTray(open) {
  document.body.classList.toggle("tray-open", open);
  $("jobs-toggle").setAttribute("aria-expanded", String(open));
  $("scrim").hidden = !open;
  if (open) $("tray-close").focus();
  else if (SMALL_SCREEN.matches) $("jobs-toggle").focus();
}

// ------------------------------------------------------------------ colorize later

function missingColors(angleKey) {
  const batch = state.batch;
  return selectedColors().filter((c) => !batch.cells.has(cellKey(angleKey, c)));
}

function colorizeState(angleKey) {
  const batch = state.batch;
  if (!batch || batch.autoColorize) return { visible: false };
  const angle = batch.cells.get(cellKey(angleKey, null));
  if (!angle || angle.status === "failed") return { visible: false };
  if (state.colorizing.has(angleKey)) return { visible: true, enabled: false, busy: true, count: 0, reason: "Colorizing…" };
  if (angle.status !== "completed") return { visible: true, enabled: false, count: 0, reason: "Available when the angle shot is ready" };
  if (!state.selColors.size) return { visible: true, enabled: false, count: 0, reason: "Pick paint colours in the left panel" };
  const missing = missingColors(angleKey);
  if (!missing.length) return { visible: true, enabled: false, count: 0, reason: "Already made in every selected colour" };
  return { visible: true, enabled: true, count: missing.length, reason: "" };
}

async function colorize(angleKey) {
  const batch = state.batch;
  if (!batch || !colorizeState(angleKey).enabled) return;
  const colors = missingColors(angleKey);
  state.colorizing.add(angleKey);
  renderBatch();
  try {
    debug(`colorize ${batch.batchId} angle=${angleKey} colors=${colors.join(",")}`);
    await state.api.colorize(batch.batchId, { colors, angles: [angleKey] });
    if (state.batch !== batch) return;
    for (const c of colors) {
      debug(`enqueue color angle=${angleKey} color=${c}`);
      if (!batch.colors.includes(c)) batch.colors.push(c);
      mergeCell(batch, { type: "color", angleKey, colorKey: c, status: "queued" });
    }
    batch.status = "running";
    batch.serverCompleted = false;
    batch.sawRunning = true;
    toast(`Colorizing ${angleLabel(angleKey)} in ${plural(colors.length, "colour")}`, "success");
    refreshSnapshot("after colorize");
  } catch (err) {
    toastError(err);
  } finally {
    state.colorizing.delete(angleKey);
    renderBatch();
  }
}

// ------------------------------------------------------------------ save to gallery

async function saveToGallery(cell) {
  const batch = state.batch;
  if (!batch) return;
  const assetId = assetIdOf(batch.batchId, cell.angleKey, cell.colorKey);
  // The backend stores every finished image in the gallery already: saving only confirms and reveals it.
  state.saved.add(assetId);
  persistSaved();
  renderBatch();
  toast(`${cellTitle(cell)} is in your Gallery`, "success");
  await showView("gallery");
  const match = () =>
    $("gallery-grid").querySelector(`[data-asset-id="${CSS.escape(assetId)}"]`) ||
    $("gallery-grid").querySelector(
      `[data-batch-id="${CSS.escape(batch.batchId)}"][data-angle-key="${CSS.escape(cell.angleKey)}"][data-color-key="${CSS.escape(cell.colorKey || "")}"]`,
    );
  let node = match();
  for (let pages = 0; !node && state.gallery.nextToken && pages < 5; pages += 1) {
    await loadGallery(false);
    node = match();
  }
  if (node) {
    node.classList.add("highlight");
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.querySelector(".g-thumb")?.focus({ preventScroll: true });
    setTimeout(() => node.classList.remove("highlight"), 3000);
  }
}

// ------------------------------------------------------------------ gallery view

async function loadGallery(reset) {
  const g = state.gallery;
  if (g.loading || !state.api) return;
  g.loading = true;
  renderGallery();
  try {
    const res = await state.api.gallery(reset ? null : g.nextToken);
    if (reset) g.items = [];
    const seen = new Set(g.items.map((i) => i.assetId));
    for (const item of res.items || []) if (!seen.has(item.assetId)) g.items.push(item);
    g.nextToken = res.nextToken || null;
    g.loaded = true;
  } catch (err) {
    toastError(err);
  } finally {
    g.loading = false;
    renderGallery();
  }
}

function renderGallery() {
  const g = state.gallery;
  const grid = $("gallery-grid");
  grid.setAttribute("aria-busy", String(g.loading));
  if (!g.loaded && g.loading) {
    grid.replaceChildren(...Array.from({ length: 8 }, () => el("div", { class: "g-item skeleton", "aria-hidden": "true" })));
  } else {
    const existing = new Map([...grid.querySelectorAll("[data-testid=gallery-item]")].map((n) => [n.dataset.assetId, n]));
    grid.replaceChildren(...g.items.map((item, i) => existing.get(item.assetId) || galleryItem(item, i)));
    // the index used by the lightbox may change when items are inserted
    grid.querySelectorAll("[data-testid=gallery-item]").forEach((n, i) => (n.dataset.index = String(i)));
  }
  $("gallery-empty").hidden = !(g.loaded && !g.items.length);
  const more = $("gallery-more");
  more.hidden = !g.nextToken;
  more.disabled = g.loading;
  more.textContent = g.loading && g.loaded ? "Loading…" : "Load more";
}

function galleryItem(item, index) {
  const title = cellTitle(item);
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
        item.colorKey ? el("span", { class: "swatch sm", style: `--swatch:${swatch(item.colorKey)}`, "aria-hidden": "true" }) : null,
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
    const items = state.gallery.items.map((it) => ({ title: cellTitle(it), imageUrl: it.imageUrl || it.thumbUrl, name: `${it.angleKey}-${it.colorKey || "angle"}.png` }));
    openLightbox(items, Number(node.dataset.index), open);
  });
  return node;
}

async function showView(view) {
  state.view = view;
  const gallery = view === "gallery";
  $("view-studio").hidden = gallery;
  $("view-gallery").hidden = !gallery;
  document.body.classList.toggle("view-gallery", gallery);
  for (const [tab, on] of [[$("tab-studio"), !gallery], [$("tab-gallery"), gallery]]) {
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  if (gallery) {
    openTray(false);
    await loadGallery(true);
  }
}

// ------------------------------------------------------------------ lightbox

function openLightbox(items, index, opener) {
  if (!items.length) return;
  state.lightbox = { items, index: Math.max(0, Math.min(index, items.length - 1)), opener: opener || document.activeElement };
  showLightboxItem();
  const dlg = $("lightbox");
  if (!dlg.open) dlg.showModal();
  $("lightbox-close").focus();
}

function showLightboxItem() {
  const { items, index } = state.lightbox;
  const item = items[index];
  $("lightbox-title").textContent = item.title;
  const img = $("lightbox-img");
  img.src = item.imageUrl;
  img.alt = `${item.title}, full size`;
  const dl = $("lightbox-download");
  dl.href = item.imageUrl;
  dl.setAttribute("download", item.name);
  dl.target = "_blank";
  dl.rel = "noopener";
  $("lightbox-prev").hidden = $("lightbox-next").hidden = items.length < 2;
}

function stepLightbox(delta) {
  const lb = state.lightbox;
  if (lb.items.length < 2) return;
  lb.index = (lb.index + delta + lb.items.length) % lb.items.length;
  showLightboxItem();
}

function openCell(key) {
  const batch = state.batch;
  if (!batch) return;
  const keys = matrix.completedKeys(batch);
  const items = keys.map((k) => {
    const c = batch.cells.get(k);
    return { title: cellTitle(c), imageUrl: c.imageUrl || c.thumbUrl, name: `${c.angleKey}-${c.colorKey || "angle"}.png` };
  });
  openLightbox(items, keys.indexOf(key), document.activeElement);
}

// ------------------------------------------------------------------ wiring

function wire() {
  $("setup-form").addEventListener("submit", (e) => {
    e.preventDefault();
    generate();
  });
  $("photo-input").addEventListener("change", (e) => {
    addFiles([...e.target.files]);
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
    if (e.dataTransfer) e.dataTransfer.dropEffect = state.busy ? "none" : "copy";
  });
  zone.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    if (!state.busy && e.dataTransfer) addFiles([...e.dataTransfer.files]);
  });
  // A photo dropped next to the drop zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());

  $("auto-colorize").addEventListener("change", (e) => {
    state.auto = e.target.checked;
    updateForm();
  });
  $("angles-all").addEventListener("click", () => toggleAll(state.selAngles, state.angles, "angleKey"));
  $("colors-all").addEventListener("click", () => toggleAll(state.selColors, state.colors, "colorKey"));

  const tabs = [$("tab-studio"), $("tab-gallery")];
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => showView(i ? "gallery" : "studio"));
    tab.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      e.preventDefault();
      const other = tabs[1 - i];
      other.focus();
      showView(other === tabs[1] ? "gallery" : "studio");
    });
  });
  $("gallery-more").addEventListener("click", () => loadGallery(false));
  $("gallery-refresh").addEventListener("click", () => loadGallery(true));

  $("jobs-toggle").addEventListener("click", () => openTray(!document.body.classList.contains("tray-open")));
  $("tray-close").addEventListener("click", () => openTray(false));
  $("scrim").addEventListener("click", () => openTray(false));
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && document.body.classList.contains("tray-open") && !$("lightbox").open) openTray(false);
  });
  SMALL_SCREEN.addEventListener("change", () => openTray(false));

  const dlg = $("lightbox");
  $("lightbox-close").addEventListener("click", () => dlg.close());
  $("lightbox-prev").addEventListener("click", () => stepLightbox(-1));
  $("lightbox-next").addEventListener("click", () => stepLightbox(1));
  dlg.addEventListener("click", (e) => {
    if (e.target === dlg) dlg.close(); // backdrop
  });
  dlg.addEventListener("keydown", (e) => {
    if (e.key === "ArrowLeft") stepLightbox(-1);
    if (e.key === "ArrowRight") stepLightbox(1);
  });
  dlg.addEventListener("close", () => {
    $("lightbox-img").removeAttribute("src");
    const opener = state.lightbox.opener;
    if (opener && opener.isConnected) opener.focus();
  });

  for (const tab of document.querySelectorAll(".app-tab[aria-disabled=true]")) {
    tab.addEventListener("click", (e) => e.preventDefault());
  }
  $("retry-load").addEventListener("click", () => {
    hideLoadError();
    if (retryAction) retryAction();
  });

  matrix = new MatrixView($("matrix"), {
    angleLabel,
    angleDesc,
    colorLabel,
    swatch,
    colorOrder: () => state.colors.map((c) => c.colorKey),
    isSaved: (id) => state.saved.has(id),
    colorizeState,
    onOpen: openCell,
    onSave: saveToGallery,
    onColorize: colorize,
  });
}

async function loadPresets() {
  try {
    const p = await state.api.presets();
    const rank = (a) => (typeof a.order === "number" && Number.isFinite(a.order) ? a.order : Number.MAX_SAFE_INTEGER);
    state.angles = [...(p.angles || [])].sort((a, b) => rank(a) - rank(b)); // stable: ties keep the server's order
    state.colors = [...(p.colors || [])];
    state.angleByKey = new Map(state.angles.map((a) => [a.angleKey, a]));
    state.colorByKey = new Map(state.colors.map((c) => [c.colorKey, c]));
    state.presetsLoaded = true;
    hideLoadError();
    renderPresets();
    updateForm();
    if (state.batch) {
      matrix.structure = ""; // relabel
      renderBatch();
    }
    return true;
  } catch (err) {
    showLoadError(`Couldn't load angles and colours. ${err.message}`, async () => {
      if ((await loadPresets()) && params.get("batch") && !state.batch) await restoreBatch(params.get("batch"));
    });
    return false;
  }
}

async function boot() {
  wire();
  const activeTab = document.querySelector(".app-tab.active");
  const tabStrip = activeTab.parentElement;
  if (tabStrip.scrollWidth > tabStrip.clientWidth) tabStrip.scrollLeft = activeTab.offsetLeft - tabStrip.offsetLeft - 8;
  renderThumbs();
  updateForm();
  renderProgress(null);
  updateTrayCount();
  const configUrl = document.querySelector('meta[name="mp-config-url"]')?.content || "/api/car/marketplace/config";
  try {
    state.config = await loadConfig(configUrl);
  } catch (err) {
    showLoadError(`Couldn't load the studio configuration. ${err.message}`, () => location.reload());
    setConnectionState("reconnecting");
    return;
  }
  const devUser = params.get("user");
  state.api = new Api({
    baseUrl: state.config.apiBaseUrl || "",
    devUser: devUser && state.config.devMode !== false ? devUser : null,
    token: readToken(),
  });
  if (state.config.devMode) {
    const chip = $("user-chip");
    chip.textContent = devUser || "dev-user";
    chip.title = "Development mode user (X-Dev-User)";
    chip.hidden = false;
  }
  debug("config", state.config);

  state.live = new LiveSocket({
    url: state.config.websocketUrl,
    getTicket: () => state.api.wsTicket(),
    onMessage: onSocketMessage,
    onState: setConnectionState,
    onReconnect: () => refreshSnapshot("reconnected"),
    debug,
  });
  state.live.start();

  const ok = await loadPresets();
  const restore = params.get("batch");
  if (restore && ok) await restoreBatch(restore);
  document.body.dataset.ready = "true";
}

boot();
