// Unit tests of web/batch_state.js (node's built-in runner: `node --test tests/web/*.test.mjs`).
// The page's counterpart of tests/unit/cli/test_cli_watch_state.py: cells only move forward,
// terminal cells never change, other batches' events change nothing.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  BATCH_COMPLETED,
  BATCH_CREATED,
  BatchState,
  JOB_UPDATED,
  STATUSES,
  STATUS_RANK,
  assetIdOf,
  canMove,
  cellKey,
  isTerminal,
  normalStatus,
} from "../../web/batch_state.js";

const ANGLES = ["front_0", "side_90"];
const COLORS = ["red_metallic", "blue_metallic"];
const BATCH = "b001";

const angleCell = (angleKey, status = "queued", extra = {}) => ({ type: "angle", angleKey, colorKey: null, status, ...extra });
const colorCell = (angleKey, colorKey, status = "queued", extra = {}) => ({ type: "color", angleKey, colorKey, status, ...extra });
const jobUpdated = (result, batchId = BATCH) => ({ type: JOB_UPDATED, data: { batchId, result } });
const completedEvent = (batchId = BATCH) => ({ type: BATCH_COMPLETED, data: { batchId } });

/** The page's view right after POST /batch answered (auto-colorize on unless told). */
function created({ autoColorize = true, angles = ANGLES, colors = COLORS, cells } = {}) {
  const answerCells = cells ?? angles.map((a) => angleCell(a));
  return BatchState.fromCreate(
    { batchId: BATCH, totalJobs: angles.length * (1 + (autoColorize ? colors.length : 0)), cells: answerCells },
    { angles, colors, autoColorize, sourceImageUrls: ["https://x/1.jpg"] },
  );
}

const statusOf = (batch, angleKey, colorKey = null) => batch.cells.get(cellKey(angleKey, colorKey))?.status;

/** A small seeded PRNG (mulberry32), so shuffles are random but reproducible. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("the cell status order", () => {
  test("given the statuses when ranked then queued < processing < completed = failed = canceled", () => {
    assert.deepEqual(STATUSES, ["queued", "processing", "completed", "failed", "canceled"]);
    assert.ok(STATUS_RANK.queued < STATUS_RANK.processing);
    assert.ok(STATUS_RANK.processing < STATUS_RANK.completed);
    assert.equal(STATUS_RANK.completed, STATUS_RANK.failed);
    assert.equal(STATUS_RANK.failed, STATUS_RANK.canceled);
    assert.ok(Object.isFrozen(STATUS_RANK));
  });

  test("given each status when asked if terminal then only completed, failed and canceled are", () => {
    assert.deepEqual(STATUSES.filter(isTerminal), ["completed", "failed", "canceled"]);
    for (const other of [undefined, null, "", "running", "constructor", "toString"]) assert.equal(isTerminal(other), false);
  });

  test("given an unknown or missing status when normalised then it counts as queued", () => {
    for (const s of STATUSES) assert.equal(normalStatus(s), s);
    for (const s of [undefined, null, "", "succeeded", "COMPLETED", 2, "constructor", "__proto__", "toString"]) {
      assert.equal(normalStatus(s), "queued", String(s));
    }
  });

  test("given two statuses when asked if a cell may move then only forward or same moves are allowed, never out of terminal", () => {
    const allowed = [];
    for (const from of STATUSES) for (const to of STATUSES) if (canMove(from, to)) allowed.push(`${from}>${to}`);
    assert.deepEqual(allowed, [
      "queued>queued", "queued>processing", "queued>completed", "queued>failed", "queued>canceled",
      "processing>processing", "processing>completed", "processing>failed", "processing>canceled",
    ]);
  });

  test("given an angle and an optional colour when keyed then cell keys and asset ids match the backend's", () => {
    assert.equal(cellKey("front_0", null), "front_0|");
    assert.equal(cellKey("front_0", "red"), "front_0|red");
    assert.equal(assetIdOf("b1", "front_0", null), "b1.front_0.angle");
    assert.equal(assetIdOf("b1", "front_0", "red"), "b1.front_0.red");
  });
});

describe("a batch created by this page", () => {
  test("given auto-colorize when the create answer lists only angle cells then every angle × colour cell is shown queued", () => {
    const batch = created();
    assert.equal(batch.batchId, BATCH);
    assert.equal(batch.cells.size, 6);
    for (const a of ANGLES) {
      assert.equal(statusOf(batch, a), "queued");
      assert.equal(batch.cells.get(cellKey(a, null)).synthetic, false); // the server reported it
      for (const c of COLORS) {
        const cell = batch.cells.get(cellKey(a, c));
        assert.deepEqual(cell, { type: "color", angleKey: a, colorKey: c, status: "queued", attempt: 1, imageUrl: null, thumbUrl: null, error: null, colorCheck: null, synthetic: true });
      }
    }
    assert.equal(batch.totalJobs, 6);
    assert.equal(batch.sawRunning, true);
    assert.equal(batch.status, "running");
    assert.equal(batch.serverCompleted, false);
  });

  test("given auto-colorize off when the view is built then only the angle cells exist", () => {
    const batch = created({ autoColorize: false });
    assert.deepEqual([...batch.cells.keys()], ["front_0|", "side_90|"]);
    assert.equal(batch.autoColorize, false);
  });

  test("given the request's lists when the view is built then it keeps copies, not the caller's arrays", () => {
    const body = { angles: ["front_0"], colors: ["red"], autoColorize: true };
    const batch = BatchState.fromCreate({ batchId: BATCH, cells: [] }, body);
    body.angles.push("side_90");
    assert.deepEqual(batch.angles, ["front_0"]);
    assert.equal(batch.totalJobs, 0);
  });

  test("given a create answer whose cells already moved when the view is built then their statuses are kept", () => {
    const batch = created({ cells: [angleCell("front_0", "processing"), angleCell("side_90")] });
    assert.equal(statusOf(batch, "front_0"), "processing");
    assert.equal(statusOf(batch, "side_90"), "queued");
  });
});

describe("job updates", () => {
  test("given a completed cell when late processing and queued updates arrive then it stays completed and nothing redraws", () => {
    const batch = created();
    assert.deepEqual(batch.applyMessage(jobUpdated(angleCell("front_0", "processing"))), { changed: true, catchUp: false });
    const done = angleCell("front_0", "completed", { imageUrl: "https://img/f.png", thumbUrl: "https://img/f.t.png" });
    assert.equal(batch.applyMessage(jobUpdated(done)).changed, true);
    for (const late of ["processing", "queued", "failed"]) {
      assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", late, { error: "late" }))).changed, false, late);
    }
    assert.equal(batch.applyMessage(jobUpdated(done)).changed, false); // duplicate
    const cell = batch.cells.get(cellKey("front_0", null));
    assert.equal(cell.status, "completed");
    assert.equal(cell.imageUrl, "https://img/f.png");
    assert.equal(cell.error, null);
  });

  test("given a failed cell when a completed update arrives then it stays failed", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "failed", { error: "Model refused" })));
    assert.equal(batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "completed", { imageUrl: "u" }))).changed, false);
    const cell = batch.cells.get(cellKey("front_0", "red_metallic"));
    assert.equal(cell.status, "failed");
    assert.equal(cell.error, "Model refused");
    assert.equal(cell.imageUrl, null);
  });

  test("given a completed cell without URLs when a duplicate completed update brings them then it learns them", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { thumbUrl: "t" }))).changed, true);
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { imageUrl: "i", thumbUrl: "other" }))).changed, true);
    const cell = batch.cells.get(cellKey("front_0", null));
    assert.equal(cell.thumbUrl, "t"); // a URL once known is not replaced
    assert.equal(cell.imageUrl, "i");
  });

  test("given a queued cell when it jumps straight to completed then the update is taken", () => {
    const batch = created();
    assert.equal(batch.applyMessage(jobUpdated(angleCell("side_90", "completed", { imageUrl: "i" }))).changed, true);
    assert.equal(statusOf(batch, "side_90"), "completed");
  });

  test("given a processing cell when the same update repeats then nothing redraws, and a new error or URL does", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "processing")));
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "processing"))).changed, false);
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "processing", { thumbUrl: "t" }))).changed, true);
    // a later report without the URL keeps the one already known
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "completed"))).changed, true);
    assert.equal(batch.cells.get(cellKey("front_0", null)).thumbUrl, "t");
  });

  test("given a processing cell when an update with an unknown status arrives then it is read as queued and ignored", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "processing")));
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "weird"))).changed, false);
    assert.equal(batch.applyMessage(jobUpdated(angleCell("front_0", "constructor"))).changed, false);
    assert.equal(statusOf(batch, "front_0"), "processing");
  });

  test("given a cell the page never drew when an update names it then it appears with its type guessed from the colour", () => {
    const batch = created({ autoColorize: false });
    assert.equal(batch.applyMessage(jobUpdated({ angleKey: "front_0", colorKey: "red_metallic", status: "processing" })).changed, true);
    const cell = batch.cells.get(cellKey("front_0", "red_metallic"));
    assert.equal(cell.type, "color");
    assert.equal(cell.synthetic, false);
    assert.equal(batch.applyMessage(jobUpdated({ angleKey: "rear_180" })).changed, true);
    assert.equal(batch.cells.get(cellKey("rear_180", null)).type, "angle");
    assert.equal(statusOf(batch, "rear_180"), "queued");
  });

  test("given a placeholder when the server reports that cell then it is no longer a placeholder", () => {
    const batch = created();
    const key = cellKey("front_0", "red_metallic");
    assert.equal(batch.cells.get(key).synthetic, true);
    assert.equal(batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic"))).changed, false); // nothing to draw
    assert.equal(batch.cells.get(key).synthetic, false);
  });

  test("given a failed angle shot when reported then its colour placeholders fail with a reason and reported cells do not", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(colorCell("front_0", "blue_metallic", "processing"))); // reported by the server
    batch.applyMessage(jobUpdated(angleCell("front_0", "failed", { error: "No car found" })));
    assert.equal(statusOf(batch, "front_0"), "failed");
    const red = batch.cells.get(cellKey("front_0", "red_metallic"));
    assert.equal(red.status, "failed");
    assert.equal(red.error, "Not generated: the angle shot failed.");
    assert.equal(statusOf(batch, "front_0", "blue_metallic"), "processing");
    assert.equal(statusOf(batch, "side_90", "red_metallic"), "queued"); // another angle
  });

  test("given a report without an angle when merged then it is ignored", () => {
    const batch = created();
    for (const r of [null, undefined, {}, { status: "completed" }, { angleKey: "" }]) {
      assert.equal(batch.mergeCell(r), false);
    }
    assert.equal(batch.applyMessage({ type: JOB_UPDATED, data: { batchId: BATCH } }).changed, false);
    assert.equal(batch.cells.size, 6);
  });

  test("given events of another batch when applied then nothing changes", () => {
    const batch = created();
    const before = JSON.stringify([...batch.cells]);
    assert.deepEqual(batch.applyMessage(jobUpdated(angleCell("front_0", "completed"), "somebody-elses")), { changed: false, catchUp: false });
    assert.deepEqual(batch.applyMessage(completedEvent("somebody-elses")), { changed: false, catchUp: false });
    assert.deepEqual(batch.applyMessage({ type: JOB_UPDATED, data: { result: angleCell("front_0", "completed") } }), { changed: false, catchUp: false });
    assert.deepEqual(batch.applyMessage({ type: JOB_UPDATED }), { changed: false, catchUp: false });
    assert.equal(JSON.stringify([...batch.cells]), before);
    assert.equal(batch.status, "running");
  });

  test("given batch-created and unknown events when applied then only the total is learned and nothing redraws", () => {
    const batch = created();
    assert.deepEqual(batch.applyMessage({ type: BATCH_CREATED, data: { batchId: BATCH, totalJobs: 9 } }), { changed: false, catchUp: false });
    assert.equal(batch.totalJobs, 9);
    batch.applyMessage({ type: BATCH_CREATED, data: { batchId: BATCH, totalJobs: "9" } });
    assert.equal(batch.totalJobs, 9);
    assert.deepEqual(batch.applyMessage({ type: "somethingElse", data: { batchId: BATCH } }), { changed: false, catchUp: false });
  });

  test("given every order of duplicated updates when applied then no cell moves back and each ends at its furthest status", () => {
    const ends = { "front_0|": "completed", "front_0|red_metallic": "failed", "front_0|blue_metallic": "completed", "side_90|": "completed", "side_90|red_metallic": "processing", "side_90|blue_metallic": "queued" };
    const events = [];
    for (const [key, end] of Object.entries(ends)) {
      const [angleKey, colorKey] = key.split("|");
      for (const status of STATUSES.slice(0, STATUSES.indexOf(end) + 1).filter((s) => !isTerminal(s) || s === end)) {
        const r = { angleKey, colorKey: colorKey || null, status, imageUrl: status === "completed" ? `https://img/${key}.png` : null };
        events.push(r, { ...r }); // every update twice
      }
    }
    const random = prng(20240611);
    for (let round = 0; round < 200; round += 1) {
      const shuffled = events.slice();
      for (let i = shuffled.length - 1; i > 0; i -= 1) {
        const j = Math.floor(random() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      const batch = created();
      let lastDone = 0;
      for (const r of shuffled) {
        const before = new Map([...batch.cells].map(([k, c]) => [k, c.status]));
        batch.applyMessage(jobUpdated(r));
        for (const [k, c] of batch.cells) {
          const was = before.get(k);
          if (was) assert.ok(canMove(was, c.status) || was === c.status, `${k}: ${was} -> ${c.status}`);
        }
        const { done } = batch.progress();
        assert.ok(done >= lastDone);
        lastDone = done;
      }
      for (const [key, end] of Object.entries(ends)) assert.equal(batch.cells.get(key).status, end, `round ${round} ${key}`);
      assert.equal(batch.cells.get("front_0|").imageUrl, "https://img/front_0|.png");
    }
  });
});

describe("snapshots", () => {
  const snapshot = (cells, extra = {}) => ({ batchId: BATCH, status: "running", angles: ANGLES, colors: COLORS, autoColorize: true, totalJobs: 6, cells, ...extra });

  test("given a batch in the URL when restored from its snapshot then the matrix, order and settings come from it", () => {
    const batch = BatchState.fromSnapshot(BATCH, snapshot([
      angleCell("front_0", "completed", { imageUrl: "i" }),
      colorCell("front_0", "red_metallic", "processing"),
      angleCell("side_90", "failed", { error: "x" }),
    ]));
    assert.deepEqual(batch.angles, ANGLES);
    assert.deepEqual(batch.colors, COLORS);
    assert.equal(batch.totalJobs, 6);
    assert.equal(batch.cells.size, 6);
    assert.equal(statusOf(batch, "front_0", "blue_metallic"), "queued"); // a placeholder
    assert.equal(statusOf(batch, "side_90", "red_metallic"), "queued"); // reported cells only fail their own placeholders later
    assert.deepEqual(batch.progress(), { completed: 1, failed: 1, canceled: 0, processing: 1, active: 4, total: 6, done: 2, percent: 100 / 3, complete: false });
    assert.equal(batch.sawRunning, true);
  });

  test("given a snapshot without a batch id or status when restored then the requested id and running are assumed", () => {
    const batch = BatchState.fromSnapshot("b-from-url", { cells: [angleCell("front_0")], autoColorize: false });
    assert.equal(batch.batchId, "b-from-url");
    assert.equal(batch.status, "running");
    assert.deepEqual([...batch.cells.keys()], ["front_0|"]);
  });

  test("given a completed batch when restored then placeholders it never reported are dropped", () => {
    const batch = BatchState.fromSnapshot(BATCH, snapshot([angleCell("front_0", "completed"), angleCell("side_90", "failed")], { status: "completed", totalJobs: 2 }));
    assert.equal(batch.serverCompleted, true);
    assert.equal(batch.status, "completed");
    assert.deepEqual([...batch.cells.keys()].sort(), ["front_0|", "side_90|"]);
    assert.equal(batch.progress().complete, true);
  });

  test("given a finished manual batch when restored then nothing was seen running, so its completion is not news", () => {
    const cells = [angleCell("front_0", "completed"), angleCell("side_90", "failed")];
    const batch = BatchState.fromSnapshot(BATCH, snapshot(cells, { status: "completed", autoColorize: false, totalJobs: 2 }));
    assert.equal(batch.sawRunning, false);
    assert.equal(batch.progress().complete, true);
  });

  test("given a live batch when an older snapshot arrives then cells only move forward and the lists are merged", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed", { imageUrl: "i" })));
    batch.applySnapshot(snapshot([angleCell("front_0", "processing"), angleCell("side_90", "processing")], { angles: ["side_90", "rear_180"], colors: ["white"] }));
    assert.equal(statusOf(batch, "front_0"), "completed");
    assert.equal(statusOf(batch, "side_90"), "processing");
    assert.deepEqual(batch.angles, ["side_90", "rear_180", "front_0"]); // the snapshot's order first
    assert.deepEqual(batch.colors, ["white", "red_metallic", "blue_metallic"]);
    assert.equal(statusOf(batch, "rear_180", "white"), "queued"); // placeholders for what it added
  });

  test("given a snapshot with odd fields when applied then the ones of the wrong type are ignored", () => {
    const batch = created();
    batch.applySnapshot({ angles: "front_0", colors: null, autoColorize: "no", totalJobs: "7", cells: [] });
    assert.deepEqual(batch.angles, ANGLES);
    assert.deepEqual(batch.colors, COLORS);
    assert.equal(batch.autoColorize, true);
    assert.equal(batch.totalJobs, 6);
    assert.equal(batch.status, "running");
  });
});

describe("batch completed", () => {
  test("given every reported cell finished when the batch completes then its unreported placeholders go and no catch-up is needed", () => {
    const batch = created({ autoColorize: true, cells: [angleCell("front_0"), angleCell("side_90")] });
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    batch.applyMessage(jobUpdated(angleCell("side_90", "failed")));
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "completed")));
    assert.deepEqual(batch.applyMessage(completedEvent()), { changed: true, catchUp: false });
    assert.equal(batch.status, "completed");
    assert.equal(batch.serverCompleted, true);
    // side_90's colours failed with their angle and stay; front_0 × blue was never reported and goes
    assert.deepEqual([...batch.cells.keys()].sort(), ["front_0|", "front_0|red_metallic", "side_90|", "side_90|blue_metallic", "side_90|red_metallic"]);
    assert.equal(batch.progress().complete, true);
  });

  test("given a reported cell still open here when the batch completes then the page asks for a catch-up and keeps every cell", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "processing")));
    assert.deepEqual(batch.applyMessage(completedEvent()), { changed: true, catchUp: true });
    assert.equal(batch.status, "completed");
    assert.equal(batch.serverCompleted, false);
    assert.equal(batch.cells.size, 6);
  });
});

describe("colorize later", () => {
  test("given a manual batch whose angle finished when colours are missing then they are listed in the order given", () => {
    const batch = created({ autoColorize: false });
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    assert.deepEqual(batch.missingColors("front_0", ["blue_metallic", "red_metallic"]), ["blue_metallic", "red_metallic"]);
  });

  test("given a completed manual batch when a colorize is accepted then its cells are queued and the batch runs again", () => {
    const batch = created({ autoColorize: false, colors: ["red_metallic"] });
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    batch.applyMessage(jobUpdated(angleCell("side_90", "completed")));
    batch.applyMessage(completedEvent());
    assert.equal(batch.progress().complete, true);
    batch.colorizeQueued("front_0", ["red_metallic", "black_onyx"]);
    assert.deepEqual(batch.colors, ["red_metallic", "black_onyx"]);
    assert.equal(statusOf(batch, "front_0", "black_onyx"), "queued");
    assert.equal(batch.cells.get(cellKey("front_0", "black_onyx")).synthetic, false);
    assert.equal(statusOf(batch, "side_90", "black_onyx"), undefined); // the other row is untouched
    assert.deepEqual([batch.status, batch.serverCompleted, batch.sawRunning], ["running", false, true]);
    assert.deepEqual(batch.missingColors("front_0", ["red_metallic", "black_onyx", "white"]), ["white"]);
    assert.deepEqual(batch.progress(), { completed: 2, failed: 0, canceled: 0, processing: 0, active: 2, total: 4, done: 2, percent: 50, complete: false });
    batch.colorizeQueued("front_0", ["black_onyx"]);
    assert.deepEqual(batch.colors, ["red_metallic", "black_onyx"]); // listed once
  });
});

describe("counts and progress", () => {
  test("given no cells when progress is read then nothing is done and the batch is not complete", () => {
    const batch = new BatchState({ batchId: BATCH });
    assert.deepEqual(batch.progress(), { completed: 0, failed: 0, canceled: 0, processing: 0, active: 0, total: 0, done: 0, percent: 0, complete: false });
  });

  test("given a mix of statuses when counted then each cell counts once", () => {
    const batch = created();
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    batch.applyMessage(jobUpdated(angleCell("front_0", "completed")));
    batch.applyMessage(jobUpdated(colorCell("front_0", "red_metallic", "processing")));
    batch.applyMessage(jobUpdated(colorCell("side_90", "blue_metallic", "failed")));
    assert.deepEqual(batch.counts(), { completed: 1, failed: 1, canceled: 0, processing: 1, active: 4, total: 6 });
    assert.equal(batch.progress().done, 2);
    assert.equal(batch.progress().percent, 100 / 3);
  });
});
