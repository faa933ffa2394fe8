// Car Marketplace page: set-up form (left), live angle × colour matrix (centre), jobs tray (right),
// and a gallery view. This file is the glue: it boots the page, holds the batch shown (a BatchState
// of batch_state.js), routes WebSocket events to it and redraws the views. docs/WEB.md has the map.

import { Api, loadConfig, storedToken } from "./api.js";
import { BATCH_COMPLETED, BatchState, JOB_UPDATED, STATUS, assetIdOf, cellKey } from "./batch_state.js";
import { SetupForm } from "./form.js";
import { GalleryView, SavedAssets } from "./gallery.js";
import { Presets, plural } from "./labels.js";
import { Lightbox, lightboxItem } from "./lightbox.js";
import { MatrixView } from "./matrix.js";
import { hideLoadError, showLoadError, toast, toastError, wireLoadError } from "./notify.js";
import { ProgressView } from "./progress.js";
import { JobsTray } from "./tray.js";
import { LiveSocket } from "./ws.js";

const params = new URLSearchParams(location.search);
const DEBUG = params.get("debug") === "1";
function debug(message, ...rest) {
  if (DEBUG) console.debug(`[MP] ${message}`, ...rest);
}

const PENDING_LIMIT = 1000; // events kept per unknown batch while POST /batch is in flight
const SMALL_SCREEN = window.matchMedia("(max-width: 800px)");
const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  api: null,
  live: null,
  batch: null, // the BatchState shown
  awaitingBatch: false,
  pending: new Map(), // batchId -> events that arrived while our POST /batch was in flight
  colorizing: new Set(), // angle keys whose POST .../colorize is in flight
  saved: new SavedAssets(),
  view: "studio",
};

const presets = new Presets();
const lightbox = new Lightbox();
const progress = new ProgressView();
const form = new SetupForm({
  presets,
  getConfig: () => state.config,
  getApi: () => state.api,
  debug,
  smallScreen: SMALL_SCREEN,
  onChange: () => {
    if (state.batch && !state.batch.autoColorize) renderBatch(); // the Colorize buttons follow the colours
  },
  submit: submitBatch,
});
const tray = new JobsTray({
  presets,
  smallScreen: SMALL_SCREEN,
  activeJobs: () => (state.batch ? state.batch.counts().active : 0),
  isLightboxOpen: () => lightbox.isOpen,
});
const gallery = new GalleryView({
  presets,
  getApi: () => state.api,
  openLightbox: (items, index, opener) => lightbox.open(items, index, opener),
});
const matrix = new MatrixView($("matrix"), {
  angleLabel: (k) => presets.angleLabel(k),
  angleDesc: (k) => presets.angleDesc(k),
  colorLabel: (k) => presets.colorLabel(k),
  swatch: (k) => presets.swatch(k),
  colorOrder: () => presets.colors.map((c) => c.colorKey),
  isSaved: (id) => state.saved.has(id),
  colorizeState,
  onOpen: openCell,
  onSave: saveToGallery,
  onColorize: colorize,
});

function urlWith(changes) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  return url.toString();
}

// ------------------------------------------------------------------ the batch shown

/** The form's POST /batch: events of a batch we do not know yet are kept until the answer names it. */
async function submitBatch(body, idempotencyKey) {
  state.awaitingBatch = true;
  try {
    const res = await state.api.createBatch(body, idempotencyKey);
    for (const c of res.cells || []) debug(`enqueue ${c.type} angle=${c.angleKey} color=${c.colorKey || "-"}`);
    const batch = BatchState.fromCreate(res, body);
    history.replaceState(history.state, "", urlWith({ batch: res.batchId }));
    showBatch(batch);
    return res;
  } finally {
    state.awaitingBatch = false;
    state.pending.clear();
  }
}

function showBatch(batch) {
  state.batch = batch;
  state.colorizing.clear();
  tray.reset();
  const early = state.pending.get(batch.batchId) || [];
  state.pending.clear();
  for (const msg of early) applyLive(batch, msg);
  renderBatch();
  state.live?.subscribe(batch.batchId);
}

async function restoreBatch(batchId) {
  try {
    const snap = await state.api.getBatch(batchId);
    const batch = BatchState.fromSnapshot(batchId, snap);
    form.restoreSelection(batch);
    showBatch(batch);
    debug(`restored batch ${batch.batchId}: ${batch.cells.size} cells`);
  } catch (err) {
    toastError(err);
    history.replaceState(history.state, "", urlWith({ batch: null }));
  }
}

/** GET /batch/{id} after a reconnect, a colorize, or a completion while cells are still open here. */
async function refreshSnapshot(reason) {
  const batch = state.batch;
  if (!batch || !state.api) return;
  debug(`catch-up GET batch ${batch.batchId} (${reason})`);
  try {
    const snap = await state.api.getBatch(batch.batchId);
    if (state.batch !== batch) return;
    batch.applySnapshot(snap);
    renderBatch();
  } catch (err) {
    if (err.status === 404) toastError(err);
    debug(`catch-up failed: ${err.message}`);
  }
}

function renderBatch() {
  const batch = state.batch;
  matrix.render(batch);
  progress.render(batch);
  tray.render(batch);
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
      if (list.length < PENDING_LIMIT) list.push(msg);
      state.pending.set(batchId, list);
    } else {
      debug(`ignored ${msg.type} for other batch ${batchId}`);
    }
    return;
  }
  if (applyLive(batch, msg)) renderBatch();
}

/** Merge one event of the batch shown; true when the views need drawing again. */
function applyLive(batch, msg) {
  if (msg.type === JOB_UPDATED) {
    const r = (msg.data || {}).result || {};
    debug(`job ${r.type} angle=${r.angleKey} color=${r.colorKey || "-"} → ${r.status}`);
  } else if (msg.type === BATCH_COMPLETED) {
    debug(`batch completed ${batch.batchId}`);
  }
  const { changed, catchUp } = batch.applyMessage(msg);
  if (catchUp) refreshSnapshot("completed event while cells open");
  return changed;
}

function setConnectionState(s) {
  const node = $("conn");
  node.dataset.state = s;
  node.querySelector(".conn-label").textContent = s === "open" ? "Live" : s === "reconnecting" ? "Reconnecting…" : "Connecting…";
  node.title = s === "open" ? "Live updates connected" : "Live updates are reconnecting; results are caught up automatically.";
}

// ------------------------------------------------------------------ matrix actions

/** The Colorize button of an angle's row (manual batches): shown, enabled, why not. */
function colorizeState(angleKey) {
  const batch = state.batch;
  if (!batch || batch.autoColorize) return { visible: false };
  const angle = batch.cells.get(cellKey(angleKey, null));
  if (!angle || angle.status === STATUS.FAILED) return { visible: false };
  if (state.colorizing.has(angleKey)) return { visible: true, enabled: false, busy: true, count: 0, reason: "Colorizing…" };
  if (angle.status !== STATUS.COMPLETED) return { visible: true, enabled: false, count: 0, reason: "Available when the angle shot is ready" };
  if (!form.selColors.size) return { visible: true, enabled: false, count: 0, reason: "Pick paint colours in the left panel" };
  const missing = batch.missingColors(angleKey, form.selectedColors());
  if (!missing.length) return { visible: true, enabled: false, count: 0, reason: "Already made in every selected colour" };
  return { visible: true, enabled: true, count: missing.length, reason: "" };
}

async function colorize(angleKey) {
  const batch = state.batch;
  if (!batch || !colorizeState(angleKey).enabled) return;
  const colors = batch.missingColors(angleKey, form.selectedColors());
  state.colorizing.add(angleKey);
  renderBatch();
  try {
    debug(`colorize ${batch.batchId} angle=${angleKey} colors=${colors.join(",")}`);
    await state.api.colorize(batch.batchId, { colors, angles: [angleKey] });
    if (state.batch !== batch) return;
    for (const c of colors) debug(`enqueue color angle=${angleKey} color=${c}`);
    batch.colorizeQueued(angleKey, colors);
    toast(`Colorizing ${presets.angleLabel(angleKey)} in ${plural(colors.length, "colour")}`, "success");
    refreshSnapshot("after colorize");
  } catch (err) {
    toastError(err);
  } finally {
    state.colorizing.delete(angleKey);
    renderBatch();
  }
}

async function saveToGallery(cell) {
  const batch = state.batch;
  if (!batch) return;
  const assetId = assetIdOf(batch.batchId, cell.angleKey, cell.colorKey);
  // The backend stores every finished image in the gallery already: saving only confirms and reveals it.
  state.saved.add(assetId);
  renderBatch();
  toast(`${presets.cellTitle(cell)} is in your Gallery`, "success");
  await showView("gallery");
  await gallery.reveal(assetId, batch.batchId, cell.angleKey, cell.colorKey);
}

function openCell(key) {
  const batch = state.batch;
  if (!batch) return;
  const keys = matrix.completedKeys(batch);
  const items = keys.map((k) => lightboxItem(presets, batch.cells.get(k)));
  lightbox.open(items, keys.indexOf(key), document.activeElement);
}

// ------------------------------------------------------------------ views and wiring

async function showView(view) {
  state.view = view;
  const isGallery = view === "gallery";
  $("view-studio").hidden = isGallery;
  $("view-gallery").hidden = !isGallery;
  document.body.classList.toggle("view-gallery", isGallery);
  for (const [tab, on] of [[$("tab-studio"), !isGallery], [$("tab-gallery"), isGallery]]) {
    tab.setAttribute("aria-selected", String(on));
    tab.tabIndex = on ? 0 : -1;
  }
  if (isGallery) {
    tray.open(false);
    await gallery.load(true);
  }
}

function wire() {
  form.wire();
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
  gallery.wire();
  tray.wire();
  lightbox.wire();
  for (const tab of document.querySelectorAll(".app-tab[aria-disabled=true]")) {
    tab.addEventListener("click", (e) => e.preventDefault());
  }
  wireLoadError();
}

async function loadPresets() {
  try {
    presets.set(await state.api.presets());
    hideLoadError();
    form.renderPresets();
    form.update();
    if (state.batch) {
      matrix.relabel();
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
  form.photos.render();
  form.update();
  progress.render(null);
  tray.updateCount();
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
    token: storedToken(),
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
