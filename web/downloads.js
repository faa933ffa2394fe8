// Saving files instead of opening them: a single image is fetched and handed to the browser as a
// download (a cross-origin link's `download` attribute is ignored, so a plain link would open the
// PNG in a tab), and "Download all" asks for the batch's ZIP, waits while it builds and streams it
// with progress.

import { ApiError } from "./api.js";

const ARCHIVE_POLL_MS = 1000;
const ARCHIVE_TIMEOUT_MS = 15 * 60 * 1000;
const STREAM_LIMIT_BYTES = 512 * 1024 * 1024; // larger ZIPs go to the browser's own downloader

/** Hand a Blob to the browser as a file named `filename`. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  browserDownload(url, filename);
  setTimeout(() => URL.revokeObjectURL(url), 30_000);
}

/** Let the browser download a URL whose server names it an attachment (no new tab). */
function browserDownload(url, filename) {
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * GET `url` and save it as `filename`; `onProgress(fraction|null)` while it arrives (null: the
 * size is unknown). Throws ApiError when it cannot be fetched.
 */
export async function saveUrl(url, filename, onProgress = () => {}) {
  let res;
  try {
    res = await fetch(url, { cache: "no-store" });
  } catch {
    throw new ApiError(`Couldn't download ${filename}. Check your connection and try again.`, { code: "DownloadFailed" });
  }
  if (!res.ok) throw new ApiError(`Couldn't download ${filename} (${res.status}).`, { status: res.status, code: "DownloadFailed" });
  const total = Number(res.headers.get("content-length")) || 0;
  if (!res.body || !total) {
    onProgress(null);
    saveBlob(await res.blob(), filename);
    return;
  }
  const reader = res.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress(Math.min(received / total, 1));
  }
  saveBlob(new Blob(chunks, { type: res.headers.get("content-type") || "application/octet-stream" }), filename);
}

/**
 * The batch's ZIP: POST .../archive, poll GET until ready, then save it. `onState({phase,
 * fraction, images, bytes})` with phase building | downloading | done; throws ApiError on failure.
 */
export async function downloadArchive(api, batchId, onState, { sleep = (ms) => new Promise((r) => setTimeout(r, ms)) } = {}) {
  onState({ phase: "building", fraction: null });
  await api.requestArchive(batchId);
  const started = Date.now();
  let state;
  for (;;) {
    state = await api.archiveState(batchId);
    if (state.status === "ready" && state.url) break;
    if (state.status === "failed") throw new ApiError(`The ZIP could not be built${state.error ? `: ${state.error}` : "."} Try again.`, { code: "ArchiveFailed" });
    if (Date.now() - started > ARCHIVE_TIMEOUT_MS) throw new ApiError("The ZIP is taking too long. Try again later.", { code: "ArchiveTimeout" });
    await sleep(ARCHIVE_POLL_MS);
  }
  const filename = `batch-${batchId}.zip`;
  const info = { images: state.images ?? null, bytes: state.bytes ?? null };
  if (state.bytes && state.bytes > STREAM_LIMIT_BYTES) {
    browserDownload(state.url, filename);
    onState({ phase: "done", fraction: 1, ...info, handedOver: true });
    return;
  }
  onState({ phase: "downloading", fraction: 0, ...info });
  await saveUrl(state.url, filename, (fraction) => onState({ phase: "downloading", fraction, ...info }));
  onState({ phase: "done", fraction: 1, ...info });
}
