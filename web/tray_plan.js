// Which jobs the tray lists, in which order, and what its counter says: pure, so the counter can
// never disagree with the list. tests/web/tray_plan.test.mjs runs it in node.

import { STATUS, cellKey, isTerminal } from "./batch_state.js";

export const TRAY_LIMIT = 40; // items drawn; the rest are one "+ n more queued" line

/**
 * `{keys, more, count}`: the open cells of a batch (processing first, then queued, each in matrix
 * order: angles as listed, the angle's own shot before its colours), at most `limit` of them as
 * `keys`, `more` = the open cells not drawn, `count` = every open cell (keys.length + more).
 */
export function planTray(batch, limit = TRAY_LIMIT) {
  if (!batch) return { keys: [], more: 0, count: 0 };
  const rowOf = new Map(batch.angles.map((a, i) => [a, i]));
  const colOf = new Map(batch.colors.map((c, i) => [c, i]));
  const open = [...batch.cells.values()].filter((c) => !isTerminal(c.status));
  const rank = (c) => [
    c.status === STATUS.PROCESSING ? 0 : 1,
    rowOf.has(c.angleKey) ? rowOf.get(c.angleKey) : Number.MAX_SAFE_INTEGER,
    c.colorKey ? (colOf.has(c.colorKey) ? colOf.get(c.colorKey) : Number.MAX_SAFE_INTEGER - 1) : -1,
  ];
  open.sort((a, b) => {
    const [x, y] = [rank(a), rank(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  const keys = open.slice(0, limit).map((c) => cellKey(c.angleKey, c.colorKey));
  return { keys, more: open.length - keys.length, count: open.length };
}

/** The label of a job's status; a finished job is "Done"/"Failed"/"Cancelled", never "Queued". */
export function jobStatusLabel(status) {
  switch (status) {
    case STATUS.PROCESSING:
      return "Generating";
    case STATUS.COMPLETED:
      return "Done";
    case STATUS.FAILED:
      return "Failed";
    case STATUS.CANCELED:
      return "Cancelled";
    default:
      return "Queued";
  }
}
