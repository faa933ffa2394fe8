// What a batch's state means to a dealer, in words and a tone, apart from any DOM: the status line,
// its colour and the toast at the end. A batch with failures is a warning with its counts (never a
// success), a cancelled one says so. tests/web/batch_outcome.test.mjs runs it in node.

import { BATCH_STATUS, isOutcome } from "./batch_state.js";
import { plural } from "./labels.js";

/** Whole cents, half up, from a price per image (USD) and a count: integer arithmetic, so 6 × 0.039 is 0.23. */
export function estimateUsd(images, pricePerImageUsd) {
  const micro = Math.round(Number(pricePerImageUsd) * 1e6);
  if (!Number.isFinite(micro) || micro < 0 || !Number.isInteger(images) || images < 0) return null;
  return Math.floor((images * micro + 5000) / 10000) / 100;
}

/** "$0.23" (always two decimals; null and non-numbers read as unknown: ""). */
export function formatUsd(amount) {
  if (typeof amount !== "number" || !Number.isFinite(amount)) return "";
  return `$${amount.toFixed(2)}`;
}

/**
 * The outcome a BatchState's own cells show when the server has not named one yet (every cell
 * terminal, the completion event not here): the same rule as the backend's FinalizeBatch.
 */
export function outcomeFromCounts({ completed, failed, canceled }) {
  if (!failed && !canceled) return BATCH_STATUS.COMPLETED;
  if (!completed) return canceled && !failed ? BATCH_STATUS.CANCELED : BATCH_STATUS.FAILED;
  return BATCH_STATUS.COMPLETED_WITH_FAILURES;
}

function madeAndMissed(p) {
  const parts = [`${plural(p.completed, "image")} made`];
  if (p.failed) parts.push(`${p.failed} failed`);
  if (p.canceled) parts.push(`${p.canceled} cancelled`);
  return parts.join(", ");
}

/**
 * `{status, tone, text}` for a BatchState: tone is running | success | warning | danger | canceled;
 * text is the status line (with the cost when known). `status` is the batch status it reads as.
 */
export function describeBatch(batch) {
  const p = batch.progress();
  const cost = batch.cost && typeof batch.cost.costUsd === "number" ? batch.cost.costUsd : null;
  if (batch.status === BATCH_STATUS.CANCELED) {
    const open = p.active ? `, ${p.active} stopping` : "";
    return { status: BATCH_STATUS.CANCELED, tone: "canceled", text: `Cancelled: ${madeAndMissed(p)}${open}${costText(cost)}` };
  }
  if (!p.complete) {
    const estimate = batch.estimate && typeof batch.estimate.costUsd === "number" ? ` · estimate ${formatUsd(batch.estimate.costUsd)}` : "";
    const failures = p.failed ? ` · ${p.failed} failed` : "";
    return {
      status: BATCH_STATUS.RUNNING,
      tone: p.failed ? "warning" : "running",
      text: `Generating ${plural(p.total, "image")}${p.processing ? ` · ${p.processing} in progress` : ""}${failures}${estimate}`,
    };
  }
  // Every cell is done here but the server has not named the outcome yet: cancelled cells only
  // come from the dealer's Cancel, so they read as cancelled until it does.
  const interim = p.canceled ? BATCH_STATUS.CANCELED : outcomeFromCounts(p);
  const status = isOutcome(batch.status) && batch.status !== BATCH_STATUS.COMPLETED ? batch.status : interim;
  if (status === BATCH_STATUS.COMPLETED) {
    return { status, tone: "success", text: `Batch complete: ${plural(p.completed, "image")}${costText(cost)}` };
  }
  if (status === BATCH_STATUS.FAILED) {
    return { status, tone: "danger", text: `Batch failed: no image was made (${madeAndMissed(p).replace(/^0 images made, /, "")})${costText(cost)}` };
  }
  if (status === BATCH_STATUS.CANCELED) {
    return { status, tone: "canceled", text: `Cancelled: ${madeAndMissed(p)}${costText(cost)}` };
  }
  return { status, tone: "warning", text: `Finished with problems: ${madeAndMissed(p)}${costText(cost)}` };
}

/** describeBatch's text without the cost (a toast is shown before the final cost is read). */
export function summarizeBatch(batch) {
  return describeBatch({ ...batch, progress: () => batch.progress(), cost: null, estimate: null, status: batch.status }).text;
}

const costText = (cost) => (cost === null ? "" : ` · cost ${formatUsd(cost)}`);
