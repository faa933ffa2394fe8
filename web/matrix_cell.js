// One cell of the matrix, drawn from its state: the image (or a placeholder saying what is
// happening), its colour tag, a colour-check badge when the backend sent one, and its controls:
// Download (saves the file), Regenerate, Save to Gallery on a finished image; Retry and the full
// reason (a tap, not a hover) on a failed or cancelled one.

import { STATUS, assetIdOf, cellKey } from "./batch_state.js";
import { el, icon } from "./dom.js";

const STATUS_TEXT = { queued: "Queued", processing: "Generating…", completed: "Ready", failed: "Failed", canceled: "Cancelled" };
const VERDICT_TEXT = { ok: "Colour OK", off: "Colour off", unknown: "Colour unchecked" };

/** "Front (0°) · Red Metallic" */
export function cellWhat(ctx, cell) {
  return `${ctx.angleLabel(cell.angleKey)}${cell.colorKey ? " · " + ctx.colorLabel(cell.colorKey) : ""}`;
}

function testKey(cell) {
  return `${cell.angleKey}-${cell.colorKey || "angle"}`;
}

function colorTag(ctx, cell) {
  return cell.colorKey
    ? el("span", { class: "cell-tag" }, [
        el("span", { class: "swatch sm", style: `--swatch:${ctx.swatch(cell.colorKey)}`, "aria-hidden": "true" }),
        el("span", { class: "cell-tag-text" }, ctx.colorLabel(cell.colorKey)),
      ])
    : el("span", { class: "cell-tag" }, el("span", { class: "cell-tag-text" }, "Angle shot"));
}

function checkBadge(cell) {
  const check = cell.colorCheck;
  if (!cell.colorKey || !check || cell.status !== STATUS.COMPLETED) return null;
  const delta = typeof check.deltaE === "number" ? ` (ΔE ${check.deltaE.toFixed(1)})` : "";
  const title = check.verdict === "off"
    ? `The paint looks different from the colour asked for${delta}. Regenerate to try again.`
    : check.verdict === "ok" ? `The paint matches the colour asked for${delta}.` : "The paint colour could not be measured.";
  return el("span", {
    class: `check-badge ${check.verdict}`,
    "data-testid": `color-check-${testKey(cell)}`,
    "data-verdict": check.verdict,
    title,
    role: "note",
    "aria-label": `${VERDICT_TEXT[check.verdict]}${delta}`,
  }, [check.verdict === "off" ? icon("alert") : check.verdict === "ok" ? icon("check") : null, VERDICT_TEXT[check.verdict]]);
}

function button(label, attrs, children, onClick) {
  const b = el("button", { type: "button", class: "btn small", "aria-label": label, title: label, ...attrs }, children);
  b.addEventListener("click", onClick);
  return b;
}

/**
 * Draw `cell` into `node` (a figure kept per cell: updated in place). `ctx`: the matrix's labels
 * and callbacks (see MatrixView), `humanize(text)`, `isSaved(assetId)`, `isExpanded(key)`.
 */
export function drawCell(node, cell, batchId, ctx) {
  const key = cellKey(cell.angleKey, cell.colorKey);
  const what = cellWhat(ctx, cell);
  const saved = ctx.isSaved(assetIdOf(batchId, cell.angleKey, cell.colorKey));
  const expanded = ctx.isExpanded(key);
  const check = cell.colorCheck ? cell.colorCheck.verdict : "";
  const busyRetry = ctx.isRetrying(key);
  const sig = [cell.status, cell.attempt, cell.thumbUrl, cell.imageUrl, cell.error, saved, expanded, check, busyRetry].join("|");
  if (node.dataset.sig === sig) return;
  node.dataset.sig = sig;
  node.dataset.status = cell.status;
  node.dataset.attempt = String(cell.attempt || 1);
  node.setAttribute("aria-label", `${what}: ${STATUS_TEXT[cell.status] || cell.status}${cell.attempt > 1 ? ` (try ${cell.attempt})` : ""}`);
  node.setAttribute("aria-busy", String(cell.status === STATUS.PROCESSING));
  const tid = testKey(cell);
  const attemptBadge = cell.attempt > 1 ? el("span", { class: "attempt-badge", title: `Attempt ${cell.attempt}` }, `Try ${cell.attempt}`) : null;
  const picture = cell.thumbUrl || cell.imageUrl;
  const parts = [];

  if (cell.status === STATUS.COMPLETED && picture) {
    const img = el("img", { src: picture, alt: `${what}, studio image`, decoding: "async" });
    img.addEventListener("error", () => node.classList.add("img-broken"), { once: true });
    const media = el("button", { type: "button", class: "cell-media thumb-btn", "aria-label": `Open ${what} full size` }, [img, colorTag(ctx, cell), attemptBadge, checkBadge(cell)]);
    media.addEventListener("click", () => ctx.onOpen(key));
    const download = button(`Download ${what}`, { class: "btn small icon-only download", "data-testid": `download-${tid}` }, icon("download"), (e) => ctx.onDownload(cell, e.currentTarget));
    const offColour = check === "off";
    const regen = button(offColour ? `Colour looks off: regenerate ${what}` : `Regenerate ${what}`,
      { class: `btn small icon-only regenerate${offColour ? " suggested" : ""}`, "data-testid": `regenerate-${tid}` }, icon("refresh"), (e) => ctx.onRetry(cell, e.currentTarget));
    regen.disabled = busyRetry;
    const save = el("button", {
      type: "button",
      class: `btn small save${saved ? " saved" : ""}`,
      "aria-pressed": String(saved),
      "aria-label": saved ? "Saved ✓" : "Save to Gallery",
      title: saved ? "In your Gallery: show it" : "Save to Gallery",
    }, [icon(saved ? "check" : "bookmark"), el("span", { class: "btn-label", "aria-hidden": "true" }, saved ? "Saved" : "Save")]);
    save.addEventListener("click", () => ctx.onSave(cell));
    parts.push(media, el("div", { class: "cell-actions" }, [download, regen, save]));
  } else if (cell.status === STATUS.FAILED || cell.status === STATUS.CANCELED) {
    const failed = cell.status === STATUS.FAILED;
    const reason = ctx.humanize(cell.error) || (failed ? "The image could not be generated." : "Cancelled before it was made.");
    const detailId = `reason-${tid}`;
    // the title carries its icon inline and a cancelled cell's reason waits behind "Why?", so the
    // text fits a phone's cell above the colour tag instead of being squeezed under it
    parts.push(el("div", { class: `cell-media placeholder ${failed ? "failed" : "canceled"}` }, [
      el("span", { class: "ph-title" }, [icon(failed ? "alert" : "x"), failed ? "Failed" : "Cancelled"]),
      failed ? el("span", { class: "ph-reason", "data-testid": `reason-${tid}` }, reason) : null,
      attemptBadge,
      colorTag(ctx, cell),
    ]));
    const retry = button(`Retry ${what}`, { class: "btn small retry", "data-testid": `retry-${tid}` }, [icon("refresh"), el("span", { class: "btn-label" }, busyRetry ? "Retrying…" : "Retry")], (e) => ctx.onRetry(cell, e.currentTarget));
    retry.disabled = busyRetry;
    const more = button(expanded ? "Hide the reason" : `Why did ${what} ${failed ? "fail" : "stop"}?`, {
      class: "btn small icon-only why",
      "aria-expanded": String(expanded),
      "aria-controls": detailId,
      "data-testid": `why-${tid}`,
    }, icon("info"), () => ctx.onToggleReason(key));
    parts.push(el("div", { class: "cell-actions" }, [retry, more]));
    parts.push(el("p", { class: "cell-detail", id: detailId, hidden: !expanded, "data-testid": `detail-${tid}` }, reason));
  } else {
    const regenerating = !!picture; // a retried finished cell keeps its old image until the new one lands
    const label = cell.status === STATUS.PROCESSING ? (regenerating ? "Regenerating…" : "Generating…") : (regenerating ? "Regenerate queued" : "Queued");
    const children = [
      regenerating ? el("img", { class: "stale", src: picture, alt: "" }) : null,
      cell.status === STATUS.PROCESSING ? el("span", { class: "spinner", "aria-hidden": "true" }) : icon("clock"),
      el("span", { class: "ph-title" }, label),
      attemptBadge,
      colorTag(ctx, cell),
    ];
    parts.push(el("div", { class: `cell-media placeholder ${cell.status === STATUS.PROCESSING ? "processing" : "queued"}${regenerating ? " regenerating" : ""}` }, children));
  }
  const focused = node.contains(document.activeElement) ? document.activeElement : null;
  const focusId = focused ? focused.dataset.testid || "" : null;
  node.replaceChildren(...parts);
  if (focused) {
    // keep the keyboard where it was: the same control, else the cell itself
    const again = (focusId && node.querySelector(`[data-testid="${CSS.escape(focusId)}"]:not(:disabled)`)) || node.querySelector("button:not(:disabled)") || node;
    again.focus({ preventScroll: true });
  }
}
