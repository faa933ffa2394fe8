// Unit tests of the page's pure logic for the dealer's control (issue 13): retries follow the new
// attempt, the outcome reads as what it is, the tray's counter matches its list, one key per
// submission, the snapshot poller, photos checked by their bytes, costs in cents.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { describeBatch, estimateUsd, formatUsd, outcomeFromCounts, summarizeBatch } from "../../web/batch_outcome.js";
import { BATCH_COMPLETED, BatchState, JOB_UPDATED, cellKey, colorCheckOf } from "../../web/batch_state.js";
import { POLL_OFFLINE_MS, POLL_QUIET_MS, SnapshotPoller, nextPollDelay } from "../../web/live_poll.js";
import { badPhotoMessage, sniffImageType } from "../../web/photo_check.js";
import { SubmissionKeys, formSignature } from "../../web/submission.js";
import { jobStatusLabel, planTray } from "../../web/tray_plan.js";

const BATCH = "b013";
const angleCell = (angleKey, status = "queued", extra = {}) => ({ type: "angle", angleKey, colorKey: null, status, ...extra });
const colorCell = (angleKey, colorKey, status = "queued", extra = {}) => ({ type: "color", angleKey, colorKey, status, ...extra });
const jobUpdated = (result) => ({ type: JOB_UPDATED, data: { batchId: BATCH, result } });

function created({ angles = ["front_0", "side_90"], colors = ["red_metallic", "blue_metallic"], autoColorize = true } = {}) {
  return BatchState.fromCreate(
    { batchId: BATCH, totalJobs: angles.length * (1 + colors.length), cells: angles.map((a) => angleCell(a)), estimate: { images: 6, costUsd: 0.23 } },
    { angles, colors, autoColorize, sourceImageUrls: ["https://x/1.jpg"] },
  );
}

function finishAll(batch, failed = []) {
  for (const c of [...batch.cells.values()]) {
    const bad = failed.includes(cellKey(c.angleKey, c.colorKey));
    batch.applyMessage(jobUpdated({ ...c, status: bad ? "failed" : "completed", error: bad ? "Prediction interrupted" : null, thumbUrl: bad ? null : "t" }));
  }
}

describe("retry and regenerate follow the new attempt", () => {
  test("given a failed cell when a report of its next attempt arrives then it starts over as queued", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "failed", { error: "x" })));
    const { changed } = batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "queued", { attempt: 2 })));
    assert.equal(changed, true);
    const cell = batch.cells.get(cellKey("front_0", "red_metallic"));
    assert.deepEqual([cell.status, cell.attempt, cell.error], ["queued", 2, null]);
  });

  test("given a cell on its second attempt when a late report of the first arrives then it is ignored", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "processing", { attempt: 2 })));
    const { changed } = batch.applyMessage(jobUpdated(angleCell("front_0", "failed", { attempt: 1, error: "old" })));
    assert.equal(changed, false);
    assert.equal(batch.cells.get(cellKey("front_0", null)).status, "processing");
  });

  test("given a completed cell when regenerated then its old image stays shown until the new attempt's lands", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { thumbUrl: "old.png", imageUrl: "old-full.png" })));
    batch.retryQueued([cellKey("front_0", null)]);
    const cell = batch.cells.get(cellKey("front_0", null));
    assert.deepEqual([cell.status, cell.attempt, cell.thumbUrl], ["queued", 2, "old.png"]);
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { attempt: 2, thumbUrl: "new.png", imageUrl: "new-full.png" })));
    const now = batch.cells.get(cellKey("front_0", null));
    assert.deepEqual([now.status, now.attempt, now.thumbUrl], ["completed", 2, "new.png"]);
  });

  test("given a retry whose new attempt was pushed before the answer when the answer comes then the cell is not moved on twice", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "failed", { error: "x" })));
    const before = batch.attempts();
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "processing", { attempt: 2 }))); // the push won the race
    batch.retryQueued([cellKey("front_0", "red_metallic")], before);
    const cell = batch.cells.get(cellKey("front_0", "red_metallic"));
    assert.deepEqual([cell.status, cell.attempt], ["processing", 2]);
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "completed", { attempt: 2, thumbUrl: "t" })));
    assert.equal(batch.cells.get(cellKey("front_0", "red_metallic")).status, "completed");
  });

  test("given failures when Retry failed is accepted then every failed or canceled cell and a retried angle's colours run again", () => {
    const batch = created();
    finishAll(batch, [cellKey("front_0", null), cellKey("side_90", "blue_metallic")]);
    // front_0 failed, so its colours were never made: they failed with it
    assert.equal(batch.retryable().length, 4);
    const n = batch.retryQueued();
    assert.equal(n, 4);
    assert.equal(batch.status, "running");
    assert.equal(batch.progress().active, 4);
    assert.equal(batch.cells.get(cellKey("front_0", "red_metallic")).attempt, 2);
    assert.equal(batch.cells.get(cellKey("side_90", "red_metallic")).attempt, 1);
  });

  test("given a running batch when cancelled then open cells read cancelled and finished ones stay", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { thumbUrl: "t" })));
    batch.canceled();
    const p = batch.progress();
    assert.deepEqual([p.completed, p.canceled, p.active, p.complete], [1, 5, 0, true]);
    assert.equal(describeBatch(batch).tone, "canceled");
    assert.match(describeBatch(batch).text, /^Cancelled: 1 image made, 5 cancelled/);
  });
});

describe("the outcome reads as what it is", () => {
  test("given 2 made and 10 failed when the batch completes then it is a warning with counts, never a success", () => {
    const batch = created({ angles: ["a", "b", "c"], colors: ["x", "y", "z"] });
    const keys = [...batch.cells.keys()];
    finishAll(batch, keys.slice(2));
    batch.applyMessage({ type: BATCH_COMPLETED, data: { batchId: BATCH, status: "completed_with_failures", counts: {} } });
    const d = describeBatch(batch);
    assert.equal(d.tone, "warning");
    assert.equal(d.status, "completed_with_failures");
    assert.equal(d.text, "Finished with problems: 2 images made, 10 failed");
  });

  test("given every cell terminal but no completion event yet when described then the counts decide like FinalizeBatch", () => {
    assert.equal(outcomeFromCounts({ completed: 3, failed: 0, canceled: 0 }), "completed");
    assert.equal(outcomeFromCounts({ completed: 3, failed: 1, canceled: 0 }), "completed_with_failures");
    assert.equal(outcomeFromCounts({ completed: 0, failed: 2, canceled: 0 }), "failed");
    assert.equal(outcomeFromCounts({ completed: 0, failed: 0, canceled: 2 }), "canceled");
    const batch = created();
    finishAll(batch, [cellKey("side_90", null)]);
    assert.equal(describeBatch(batch).tone, "warning");
  });

  test("given cells cancelled by the dealer when all are done before the server names the outcome then it reads cancelled, not a warning", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { thumbUrl: "t" })));
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "failed", { error: "x" })));
    for (const [a, c] of [["front_0", "blue_metallic"], ["side_90", null], ["side_90", "red_metallic"], ["side_90", "blue_metallic"]]) {
      batch.applyMessage(jobUpdated({ type: c ? "color" : "angle", angleKey: a, colorKey: c, status: "canceled", error: "canceled by the dealer" }));
    }
    assert.equal(batch.status, "running");
    assert.deepEqual([describeBatch(batch).tone, summarizeBatch(batch)], ["canceled", "Cancelled: 1 image made, 1 failed, 4 cancelled"]);
  });

  test("given a clean batch with its cost when it completes then it is a success with the actual cost", () => {
    const batch = created();
    finishAll(batch);
    batch.applySnapshot({ status: "completed", cost: { predictions: 6, billedImages: 6, costUsd: 0.23 } });
    assert.deepEqual(describeBatch(batch), { status: "completed", tone: "success", text: "Batch complete: 6 images · cost $0.23" });
    // the toast comes before the final cost is read: it never shows a stale one
    assert.equal(summarizeBatch(batch), "Batch complete: 6 images");
  });

  test("given a running batch when described then it shows the estimate and any failures so far", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "failed", { error: "x" })));
    const d = describeBatch(batch);
    assert.equal(d.tone, "warning");
    assert.match(d.text, /^Generating 6 images · 3 failed · estimate \$0\.23$/);
  });

  test("given nothing made when the batch fails then it says so", () => {
    const batch = created({ angles: ["a"], colors: [] });
    finishAll(batch, [cellKey("a", null)]);
    batch.applyMessage({ type: BATCH_COMPLETED, data: { batchId: BATCH, status: "failed" } });
    assert.deepEqual([describeBatch(batch).tone, describeBatch(batch).text], ["danger", "Batch failed: no image was made (1 failed)"]);
  });

  test("given prices when estimated then cents are rounded half up on the total like the backend", () => {
    assert.equal(estimateUsd(6, 0.039), 0.23);
    assert.equal(estimateUsd(1230, 0.039), 47.97);
    assert.equal(estimateUsd(5, 0.039), 0.2); // 0.195 → 0.20
    assert.equal(estimateUsd(0, 0.039), 0);
    assert.equal(estimateUsd(-1, 0.039), null);
    assert.equal(formatUsd(0.2), "$0.20");
    assert.equal(formatUsd(undefined), "");
  });
});

describe("colour checks", () => {
  test("given a cell's colour check when merged then a well-formed one is kept and a malformed one ignored", () => {
    assert.deepEqual(colorCheckOf({ target: "#b3121f", measured: "#a01020", deltaE: 7.2, verdict: "off" }), { target: "#b3121f", measured: "#a01020", deltaE: 7.2, verdict: "off" });
    assert.equal(colorCheckOf({ verdict: "maybe" }), null);
    assert.equal(colorCheckOf(null), null);
    const batch = created();
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "completed", { colorCheck: { verdict: "off", deltaE: 9 } })));
    assert.equal(batch.cells.get(cellKey("front_0", "red_metallic")).colorCheck.verdict, "off");
    batch.applyMessage(jobUpdated(colorCell("front_0", "blue_metallic", "completed")));
    assert.equal(batch.cells.get(cellKey("front_0", "blue_metallic")).colorCheck, null);
  });
});

describe("the jobs tray plan", () => {
  test("given open and finished cells when planned then only open ones are listed, processing first, and the counter is their number", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    batch.applyMessage(jobUpdated(colorCell("front_0", "blue_metallic", "processing")));
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "failed")));
    const plan = planTray(batch);
    assert.deepEqual(plan.keys, ["front_0|blue_metallic", "side_90|", "side_90|red_metallic", "side_90|blue_metallic"]);
    assert.equal(plan.count, plan.keys.length + plan.more);
  });

  test("given more open jobs than the limit when planned then the rest are counted, not dropped", () => {
    const batch = created({ angles: Array.from({ length: 10 }, (_, i) => `a${i}`), colors: ["x", "y", "z"] });
    const plan = planTray(batch, 12);
    assert.deepEqual([plan.keys.length, plan.more, plan.count], [12, 28, 40]);
  });

  test("given every status when labelled then a finished job never reads Queued", () => {
    assert.deepEqual(["queued", "processing", "completed", "failed", "canceled"].map(jobStatusLabel), ["Queued", "Generating", "Done", "Failed", "Cancelled"]);
  });
});

describe("one batch per submission", () => {
  test("given the same form content when submitted twice then the same key is sent, and new content gets a new key", () => {
    let n = 0;
    const keys = new SubmissionKeys(() => `k${++n}`);
    const sig = formSignature({ photoIds: ["p1"], angles: ["front_0"], colors: [], autoColorize: true });
    assert.equal(keys.keyFor(sig), "k1");
    assert.equal(keys.keyFor(sig), "k1");
    keys.started(sig, "batch-1");
    assert.equal(keys.batchFor(sig), "batch-1");
    const other = formSignature({ photoIds: ["p1"], angles: ["front_0", "side_90"], colors: [], autoColorize: true });
    assert.equal(keys.keyFor(other), "k2");
    assert.equal(keys.batchFor(other), null);
  });
});

describe("the snapshot poller", () => {
  test("given the socket state when planned then it polls often offline, rarely when live, never when not running", () => {
    assert.equal(nextPollDelay({ running: false, socketOpen: false }), null);
    assert.equal(nextPollDelay({ running: true, socketOpen: false }), POLL_OFFLINE_MS);
    assert.equal(nextPollDelay({ running: true, socketOpen: true, msSinceLastMessage: 0 }), POLL_QUIET_MS);
    assert.equal(nextPollDelay({ running: true, socketOpen: true, msSinceLastMessage: POLL_QUIET_MS }), POLL_OFFLINE_MS);
  });

  test("given a blocked socket when timers fire then the snapshot is read until the batch stops running", async () => {
    const timers = [];
    let running = true;
    let polls = 0;
    const poller = new SnapshotPoller({
      state: () => ({ running, socketOpen: false, msSinceLastMessage: 0 }),
      poll: async () => {
        polls += 1;
        if (polls === 3) running = false;
      },
      setTimer: (fn, ms) => timers.push({ fn, ms }) - 1,
      clearTimer: () => {},
    });
    poller.schedule();
    while (timers.length) await timers.shift().fn();
    assert.equal(polls, 3);
  });
});

describe("photos are checked by their bytes", () => {
  test("given file heads when sniffed then images are known by their magic and text named .jpg is not", () => {
    assert.equal(sniffImageType(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
    assert.equal(sniffImageType(new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])), "image/png");
    assert.equal(sniffImageType(new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ")), "image/webp");
    assert.equal(sniffImageType(new TextEncoder().encode("\0\0\0\x18ftypheic")), "image/heic");
    assert.equal(sniffImageType(new TextEncoder().encode("this is not a photo")), null);
    assert.equal(sniffImageType(new Uint8Array()), null);
    assert.match(badPhotoMessage("car-2.jpg", "not-image"), /^car-2\.jpg is not a photo/);
  });
});
