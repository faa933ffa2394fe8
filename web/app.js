// Car Marketplace page: set-up form (left), live angle × colour matrix (centre), jobs tray (right),
// and a gallery view by batch. This file is the glue: it boots the page, holds the batch shown (a
// BatchState of batch_state.js), routes WebSocket events to it (with a snapshot poller under it),
// keeps the batch in the URL's history and redraws the views. docs/WEB.md has the map.

import { Api, loadConfig, storedToken } from "./api.js";
import { BatchActions } from "./batch_actions.js";
import { BATCH_COMPLETED, BatchState, JOB_UPDATED, STATUS, assetIdOf, cellKey } from "./batch_state.js";
import { BatchToolbar } from "./batch_toolbar.js";
import { ConfirmDialog } from "./confirm_dialog.js";
import { SetupForm } from "./form.js";
import { GalleryView, SavedAssets } from "./gallery.js";
import { Presets } from "./labels.js";
import { Lightbox, lightboxItem } from "./lightbox.js";
import { SnapshotPoller } from "./live_poll.js";
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
const AUTO_COMPACT_CELLS = 24; // larger batches start in the compact density
const SMALL_SCREEN = window.matchMedia("(max-width: 800px)");
const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  api: null,
  live: null,
  batch: null, // the BatchState shown
  awaitingBatch: false,
  pending: new Map(), // batchId -> events that arrived while our POST /batch was in flight
  saved: new SavedAssets(),
  view: "studio",
  compact: null, // null: by the batch's size; true/false: the dealer chose
  lastMessageAt: 0,
};

const presets = new Presets();
const lightbox = new Lightbox();
const confirmDialog = new ConfirmDialog();
const progress = new ProgressView();
const form = new SetupForm({
  presets,
  getConfig: () => state.config,
  getApi: () => state.api,
  debug,
  onChange: () => {
    if (state.batch && !state.batch.autoColorize) renderBatch(); // the Colorize buttons follow the colours
  },
  submit: submitBatch,
  onStarted: () => document.querySelector(".matrix-panel").scrollIntoView({ behavior: "smooth", block: "start" }),
});
const actions = new BatchActions({
  getBatch: () => state.batch,
  getApi: () => state.api,
  presets,
  confirm: confirmDialog,
  render: () => renderBatch(),
  refresh: (reason) => refreshSnapshot(reason),
  selectedColors: () => form.selectedColors(),
});
const toolbar = new BatchToolbar({
  onCancel: (b) => actions.cancel(b),
  onRetryFailed: () => actions.retryFailed(),
  onDownloadAll: () => actions.downloadAll(),
  onColorizeAll: () => actions.colorizeAll(),
  onDensity: (compact) => {
    state.compact = compact;
    renderBatch();
  },
});
const tray = new JobsTray({
  presets,
  smallScreen: SMALL_SCREEN,
  isDialogOpen: () => lightbox.isOpen || confirmDialog.isOpen,
});
const gallery = new GalleryView({
  presets,
  getApi: () => state.api,
  openLightbox: (items, index, opener) => lightbox.open(items, index, opener),
  openBatch: (batchId) => openBatch(batchId),
});
const matrix = new MatrixView($("matrix"), {
  angleLabel: (k) => presets.angleLabel(k),
  angleDesc: (k) => presets.angleDesc(k),
  colorLabel: (k) => presets.colorLabel(k),
  swatch: (k) => presets.swatch(k),
  humanize: (text) => presets.humanize(text),
  colorOrder: () => presets.colors.map((c) => c.colorKey),
  isSaved: (id) => state.saved.has(id),
  isRetrying: (key) => actions.retrying.has(key),
  colorizeState: (angleKey) => actions.colorizeRowState(state.batch, angleKey),
  onOpen: openCell,
  onSave: saveToGallery,
  onColorize: (angleKey) => actions.colorizeRow(angleKey),
  onRetry: (cell) => actions.retryCell(cell),
  onDownload: (cell, button) => actions.downloadCell(cell, button),
});
const poller = new SnapshotPoller({
  state: () => ({
    running: !!state.batch && !state.batch.progress().complete && state.batch.status !== "canceled",
    socketOpen: !!state.live && state.live.isOpen,
    msSinceLastMessage: Date.now() - state.lastMessageAt,
  }),
  poll: () => refreshSnapshot("poll"),
});

function urlWith(changes) {
  const url = new URL(location.href);
  for (const [k, v] of Object.entries(changes)) {
    if (v === null || v === undefined) url.searchParams.delete(k);
    else url.searchParams.set(k, v);
  }
  return url.toString();
}

/** A new history entry for the batch shown, so Back returns to what was there before (the form). */
function pushBatchUrl(batchId) {
  if (new URL(location.href).searchParams.get("batch") === batchId) return;
  history.pushState({ batch: batchId }, "", urlWith({ batch: batchId }));
}

// ------------------------------------------------------------------ the batch shown

/** The form's POST /batch: events of a batch we do not know yet are kept until the answer names it. */
async function submitBatch(body, idempotencyKey) {
  state.awaitingBatch = true;
  try {
    const res = await state.api.createBatch(body, idempotencyKey);
    for (const c of res.cells || []) debug(`enqueue ${c.type} angle=${c.angleKey} color=${c.colorKey || "-"}`);
    if (!state.batch || state.batch.batchId !== res.batchId) {
      pushBatchUrl(res.batchId);
      showBatch(BatchState.fromCreate(res, body));
      refreshSnapshot("after create"); // an idempotent replay answers as at creation: catch up
    }
    return res;
  } finally {
    state.awaitingBatch = false;
    state.pending.clear();
  }
}

function showBatch(batch) {
  state.batch = batch;
  actions.colorizing.clear();
  state.lastMessageAt = Date.now();
  tray.reset();
  const early = state.pending.get(batch.batchId) || [];
  state.pending.clear();
  for (const msg of early) applyLive(batch, msg);
  renderBatch();
  state.live?.subscribe(batch.batchId);
}

/** No batch shown (Back to the form): the matrix's empty state, the form in view. */
function showNoBatch() {
  state.batch = null;
  matrix.clear();
  renderBatch();
  poller.stop();
  $("setup-title").scrollIntoView({ block: "start" });
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

/** Reopen an earlier batch (the gallery's "Open in Studio"). */
async function openBatch(batchId) {
  await showView("studio");
  pushBatchUrl(batchId);
  if (!state.batch || state.batch.batchId !== batchId) await restoreBatch(batchId);
  document.querySelector(".matrix-panel").scrollIntoView({ block: "start" });
  $("matrix-title").focus({ preventScroll: true });
}

/** GET /batch/{id}: after a reconnect, a retry, a completion (for the cost), or while polling. */
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
  const compact = state.compact ?? (!!batch && batch.cells.size > AUTO_COMPACT_CELLS);
  $("matrix").classList.toggle("compact", compact);
  matrix.render(batch);
  progress.render(batch);
  tray.render(batch);
  toolbar.render(batch ? actions.toolbarState(batch, actions.colorizeAllState(batch), compact) : null);
  poller.schedule();
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
  state.lastMessageAt = Date.now();
  if (applyLive(batch, msg)) renderBatch();
}

/** Merge one event of the batch shown; true when the views need drawing again. */
function applyLive(batch, msg) {
  if (msg.type === JOB_UPDATED) {
    const r = (msg.data || {}).result || {};
    debug(`job ${r.type} angle=${r.angleKey} color=${r.colorKey || "-"} → ${r.status} (attempt ${r.attempt || 1})`);
  } else if (msg.type === BATCH_COMPLETED) {
    debug(`batch completed ${batch.batchId}: ${(msg.data || {}).status}`);
  }
  const { changed } = batch.applyMessage(msg);
  if (msg.type === BATCH_COMPLETED) refreshSnapshot("completed: cells and cost");
  return changed;
}

function setConnectionState(s) {
  const node = $("conn");
  node.dataset.state = s;
  const polling = s !== "open" && !!state.batch;
  node.querySelector(".conn-label").textContent = s === "open" ? "Live" : polling ? "Checking every few seconds" : s === "reconnecting" ? "Reconnecting…" : "Connecting…";
  node.title = s === "open" ? "Live updates connected" : "Live updates are not connected: results are read every few seconds instead.";
  poller.schedule();
}

// ------------------------------------------------------------------ matrix actions

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
  const items = keys.map((k) => lightboxItem(presets, batch.cells.get(k), batch.sourceUrls));
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
  confirmDialog.wire();
  toolbar.wire();
  for (const tab of document.querySelectorAll(".app-tab[aria-disabled=true]")) {
    tab.addEventListener("click", (e) => e.preventDefault());
  }
  wireLoadError();
  window.addEventListener("popstate", () => {
    const batchId = new URL(location.href).searchParams.get("batch");
    if (state.view !== "studio") showView("studio");
    if (!batchId) showNoBatch();
    else if (!state.batch || state.batch.batchId !== batchId) restoreBatch(batchId);
  });
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
  renderBatch();
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
