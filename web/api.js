// HTTP client for the Car Marketplace API (see shared/DESIGN.md).
// Every failure becomes an ApiError whose message is fit to show the user.

export class ApiError extends Error {
  constructor(message, { status = 0, code = "Error", field = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

const NETWORK_MESSAGE = "Can't reach the server. Check your connection and try again.";

async function readJson(res) {
  let text = "";
  try {
    text = await res.text();
  } catch {
    return null;
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorFrom(res, data) {
  const err = data && typeof data === "object" ? data.error : null;
  const message = (err && err.message) || `Request failed (${res.status}${res.statusText ? " " + res.statusText : ""})`;
  return new ApiError(message, { status: res.status, code: (err && err.code) || "HttpError", field: (err && err.field) || null });
}

/** GET the page configuration: {websocketUrl, apiBaseUrl?, devMode?, ...}. No credentials needed. */
export async function loadConfig(url) {
  let res;
  try {
    res = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
  } catch {
    throw new ApiError(NETWORK_MESSAGE, { code: "NetworkError" });
  }
  const data = await readJson(res);
  if (!res.ok) throw errorFrom(res, data);
  if (!data || typeof data.websocketUrl !== "string") {
    throw new ApiError("The server's configuration has no WebSocket URL.", { code: "BadConfig" });
  }
  return data;
}

export class Api {
  /**
   * @param {{baseUrl?: string, devUser?: string|null, token?: string|null}} opts
   *   baseUrl: absolute API origin (config.apiBaseUrl) or "" for same-origin relative URLs.
   *   devUser: sent as X-Dev-User (local stack's development mode only).
   *   token:   bearer token for a deployed stack (localStorage.mpToken).
   */
  constructor({ baseUrl = "", devUser = null, token = null } = {}) {
    this.baseUrl = (baseUrl || "").replace(/\/+$/, "");
    this.devUser = devUser;
    this.token = token;
  }

  url(path) {
    return this.baseUrl + path;
  }

  headers(extra = {}) {
    const h = { Accept: "application/json", ...extra };
    if (this.devUser) h["X-Dev-User"] = this.devUser;
    if (this.token) h.Authorization = `Bearer ${this.token}`;
    return h;
  }

  async request(method, path, { body, headers = {} } = {}) {
    const init = { method, headers: this.headers(headers), cache: "no-store" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(this.url(path), init);
    } catch {
      throw new ApiError(NETWORK_MESSAGE, { code: "NetworkError" });
    }
    const data = await readJson(res);
    if (!res.ok) throw errorFrom(res, data);
    return data || {};
  }

  presets() {
    return this.request("GET", "/api/car/marketplace/presets");
  }

  createUploads(files) {
    return this.request("POST", "/api/car/marketplace/uploads", { body: { files } });
  }

  createBatch(body, idempotencyKey) {
    const headers = idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {};
    return this.request("POST", "/api/car/marketplace/batch", { body, headers });
  }

  getBatch(batchId) {
    return this.request("GET", `/api/car/marketplace/batch/${encodeURIComponent(batchId)}`);
  }

  colorize(batchId, body) {
    return this.request("POST", `/api/car/marketplace/batch/${encodeURIComponent(batchId)}/colorize`, { body });
  }

  /** Run cells again: `cells` [{angleKey, colorKey}] (any finished cell), or none: every failed or canceled one. */
  retry(batchId, cells = null) {
    const body = cells ? { cells } : {};
    return this.request("POST", `${batchPath(batchId)}/retry`, { body });
  }

  cancel(batchId) {
    return this.request("POST", `${batchPath(batchId)}/cancel`, { body: {} });
  }

  /** Ask for the batch's ZIP: {status: "building"}. */
  requestArchive(batchId) {
    return this.request("POST", `${batchPath(batchId)}/archive`, { body: {} });
  }

  /** {status: building | ready | failed, url?, bytes?, images?, error?} */
  archiveState(batchId) {
    return this.request("GET", `${batchPath(batchId)}/archive`);
  }

  /** The user's batches, newest first: {items: [{batchId, createdAt, status, counts, thumbUrl, sourceUrl, cost}], nextToken}. */
  batches(nextToken = null, limit = 10) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (nextToken) q.set("nextToken", nextToken);
    return this.request("GET", `/api/car/marketplace/batches?${q}`);
  }

  wsTicket() {
    return this.request("POST", "/api/car/marketplace/ws-ticket", { body: {} });
  }

  /** One page of the gallery (all images, or one batch's with `batchId`), newest first. */
  gallery(nextToken, { batchId = null, limit = null } = {}) {
    const q = new URLSearchParams();
    if (nextToken) q.set("nextToken", nextToken);
    if (batchId) q.set("batchId", batchId);
    if (limit) q.set("limit", String(limit));
    const text = q.toString();
    return this.request("GET", `/api/gallery${text ? `?${text}` : ""}`);
  }
}

const batchPath = (batchId) => `/api/car/marketplace/batch/${encodeURIComponent(batchId)}`;

/** The bearer token of a deployed stack, from localStorage.mpToken (null when none or no storage). */
export function storedToken() {
  try {
    return localStorage.getItem("mpToken") || null;
  } catch {
    return null;
  }
}

/** PUT the raw file bytes to a presigned URL with exactly the headers the API returned. */
export async function putFile(upload, file) {
  let res;
  try {
    res = await fetch(upload.uploadUrl, { method: "PUT", headers: upload.headers || {}, body: file });
  } catch {
    throw new ApiError(`Uploading ${file.name} failed: ${NETWORK_MESSAGE}`, { code: "UploadFailed" });
  }
  if (!res.ok) {
    throw new ApiError(`Uploading ${file.name} failed (${res.status}).`, { status: res.status, code: "UploadFailed" });
  }
}

/** A random UUID, also outside secure contexts. */
export function uuid() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
