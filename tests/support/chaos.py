"""Chaos run: one large batch on the local stack while the Replicate stand-in injects faults,
then every invariant checked from DynamoDB, S3 and Step Functions (moto), the stand-in's
prediction list and fault report, and the WebSocket stream. Used by tests/chaos/test_chaos.py
(CI size) and benchmarks/chaos_run.py (full size, prints the figures).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.support.csv_server import serve_folder
from tests.support.e2e_client import E2EClient, jpeg_bytes, terminal_updates
from tests.support.presets_factory import write_large_presets
from tests.support.process_tree import TreeUsage
from tests.support.stack_process import running_stack
from tests.support.stack_state import MotoState, Standin, cell_of, known_secrets

ROOT = Path(__file__).resolve().parents[2]
# No `reorder`: it moves the `start` webhook, and the product subscribes to `completed` only.
DEFAULT_FAULTS = "fail=0.1,duplicate=0.2,drop=0.1,ratelimit=0.05,slow=0.1"
FAULT_MEANING = {
    "fail": "predictions Replicate failed",
    "duplicate": "completed webhooks delivered twice (same webhook-id)",
    "drop": "completed webhooks never sent (found by the reconciler's poll)",
    "ratelimit": "429 answers to prediction creates (waited out by the workflow, never a failure)",
    "slow": "output downloads held back (STANDIN_SLOW_SECONDS)",
}
OWNER = "chaos-dealer"
TERMINAL = ("completed", "failed")
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ChaosResult:
    angles: int
    colors: int
    cells: int
    faults_spec: str
    seed: str
    wall_seconds: float = 0.0
    accepted_seconds: float = 0.0
    settle_seconds: float = 0.0
    completed: int = 0
    failed: int = 0
    failure_kinds: dict[str, int] = field(default_factory=dict)
    predictions: int = 0
    cells_with_several_predictions: int = 0
    injected: dict[str, int] = field(default_factory=dict)
    limit_throttled: int = 0  # creates answered 429 by the stand-in's Replicate-like limit
    drawn: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, Any] = field(default_factory=dict)
    websocket_messages: int = 0
    checks: list[Check] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    stack_log: str = ""
    stack_peak_rss_mb: float = 0.0
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.lost

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data

    def lines(self) -> list[str]:
        """The figures, as printed by benchmarks/chaos_run.py."""
        out = [
            f"chaos run: {self.angles} angles x {self.colors} colours = {self.cells} cells "
            f"(faults {self.faults_spec}, seed {self.seed})",
            "stack settings: " + ", ".join(f"{k}={v}" for k, v in self.settings.items()),
            f"wall {self.wall_seconds:.1f} s from POST to marketplaceBatchCompleted "
            f"(accepted in {self.accepted_seconds * 1000:.0f} ms; late deliveries settled {self.settle_seconds:.1f} s after); "
            f"{self.cells / max(self.wall_seconds, 1e-9):.1f} cells/s; stack peak RSS {self.stack_peak_rss_mb:.0f} MB "
            "(all its processes, sampled)",
            f"outcome: {self.completed} completed, {self.failed} failed"
            + "".join(f"; {v} because {k}" for k, v in sorted(self.failure_kinds.items())),
            f"predictions created: {self.predictions} ({self.cells_with_several_predictions} cells with more than one)",
            "faults injected (took effect / drawn):",
        ]
        for name, meaning in FAULT_MEANING.items():
            out.append(f"  {name:<10} {self.injected.get(name, 0):>5} / {self.drawn.get(name, 0):<5} {meaning}")
        d = self.deliveries
        out.append(
            f"webhooks: {d.get('attempts', 0)} attempts; completed: {d.get('completed_delivered', 0)} accepted, "
            f"{d.get('completed_rejected', 0)} answered non-2xx and retried, {d.get('completed_dropped', 0)} dropped; "
            f"status codes {d.get('status_codes', {})}; transport errors {d.get('errors', {})}"
        )
        out.append(f"Replicate's create limit: {self.limit_throttled} creates answered 429 (waited out)")
        out.append(f"websocket: {self.websocket_messages} messages for the batch")
        out.append("invariants:")
        out.extend(f"  {'PASS' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks)
        out.append("lost: " + ("nothing" if not self.lost else f"{len(self.lost)}: " + "; ".join(self.lost[:10])))
        return out


def _keys(angles: int, colors: int) -> tuple[list[str], list[str]]:
    return [f"angle_{i:02d}" for i in range(angles)], [f"color_{i:02d}" for i in range(colors)]


def _rss_mb(pid: int) -> float:
    """The stack's resident memory now: its process and its children (moto, the stand-in)."""
    return TreeUsage.sample(pid).total_rss_mb


def pacing(cells: int) -> dict[str, str]:
    """Stack settings by size. Small runs poll fast, so dropped webhooks are found within seconds,
    and Replicate has unbounded capacity. Large runs keep the deployed shape: the reconciler polls
    only cells quiet for a while (polling hundreds of merely busy cells every second only adds
    duplicate work), and the stand-in works like a busy Replicate, at most 6 predictions
    processing at once for 2 s each (~3 completions/s, what this one-process stack absorbs on two
    cores; unpaced, 1,000 completions at once time out most webhook deliveries and every cell is
    then rescued by the reconciler instead: see docs/RELIABILITY.md)."""
    if cells <= 200:
        return {"RECONCILE_AFTER_SECONDS": "2", "LOCAL_SCHEDULE_SECONDS": "1"}
    # Replicate's create limit set below the product's pacing (600 a minute): as when another
    # client spends the same token, creates are answered 429 and must be waited out.
    return {"RECONCILE_AFTER_SECONDS": "45", "LOCAL_SCHEDULE_SECONDS": "5", "STANDIN_MAX_RUNNING": "6",
            "STANDIN_LATENCY_SECONDS": "2.0", "STANDIN_CREATE_LIMIT_PER_MINUTE": "240", "STANDIN_CREATE_BURST": "20"}


def run_chaos(
    angles: int,
    colors: int,
    *,
    faults: str = DEFAULT_FAULTS,
    seed: str = "7",
    latency: float | None = None,
    timeout: float = 600,
    extra_env: dict[str, str] | None = None,
    max_rss_mb: float = 8000,
) -> ChaosResult:
    angle_keys, color_keys = _keys(angles, colors)
    result = ChaosResult(angles=angles, colors=colors, cells=angles * (1 + colors), faults_spec=faults, seed=seed)
    paced = pacing(result.cells)
    if latency is not None:
        paced["STANDIN_LATENCY_SECONDS"] = str(latency)
    folder = Path(tempfile.mkdtemp(prefix="chaos-presets-"))
    shutil.copy(ROOT / "samples" / "presets" / "global_prompts.csv", folder)
    write_large_presets(folder, angles=angles, colors=colors)
    secrets = known_secrets()
    try:
        with serve_folder(folder) as csv_url:
            env = {
                **secrets,
                "GLOBAL_PROMPTS_CSV_URL": f"{csv_url}/global_prompts.csv",
                "ANGLE_PRESETS_CSV_URL": f"{csv_url}/angle_presets.csv",
                "COLOR_PRESETS_CSV_URL": f"{csv_url}/color_presets.csv",
                "STANDIN_FAULTS": faults,
                "STANDIN_SEED": seed,
                "STANDIN_LATENCY_SECONDS": "0.2",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
                **paced,
                **(extra_env or {}),
            }
            result.settings = {k: v for k, v in env.items() if k in (
                "STANDIN_LATENCY_SECONDS", "STANDIN_MAX_RUNNING", "STANDIN_SLOW_SECONDS", "LOCAL_SCHEDULE_SECONDS",
                "RECONCILE_AFTER_SECONDS", "STANDIN_CREATE_LIMIT_PER_MINUTE")}
            with running_stack(env, timeout=120) as urls:
                result.stack_log = str(urls["log_path"])
                _drive(result, urls, secrets, angle_keys, color_keys, timeout, max_rss_mb)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return result


def _drive(result: ChaosResult, urls: dict[str, Any], secrets: dict[str, str], angle_keys: list[str],
           color_keys: list[str], timeout: float, max_rss_mb: float) -> None:
    client = E2EClient(urls["base_url"], user=OWNER)
    listener = client.listen()
    standin = Standin(str(urls["standin_url"]), secrets["LOCAL_REPLICATE_API_TOKEN"])
    moto = MotoState(str(urls["moto_url"]))
    try:
        sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
        started = time.perf_counter()
        batch_id = client.create_batch(sources, angle_keys, color_keys)["batchId"]
        result.accepted_seconds = time.perf_counter() - started
        pid = int(urls["pid"])

        def done_or_too_big(_: Any) -> bool:
            # A shared machine: give up before the stack eats all memory (the run then fails).
            rss = _rss_mb(pid)
            result.stack_peak_rss_mb = max(result.stack_peak_rss_mb, rss)
            if rss > max_rss_mb:
                raise MemoryError(f"the stack passed {max_rss_mb:.0f} MB RSS; stopped the run")
            return bool(listener.of_batch(batch_id, "marketplaceBatchCompleted"))

        deadline = time.monotonic() + timeout
        while True:
            try:
                listener.wait_for(done_or_too_big, timeout=min(5.0, max(0.1, deadline - time.monotonic())))
                break
            except TimeoutError:
                if time.monotonic() >= deadline:
                    raise
        result.wall_seconds = time.perf_counter() - started
        # Let late work land (retried/duplicate/reordered webhooks, reconciler ticks) so a second
        # terminal push or a second completion would be seen.
        settle_started = time.perf_counter()
        deadline = time.monotonic() + 90
        while standin.fault_report()["pending"] and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
        result.settle_seconds = time.perf_counter() - settle_started
        result.stack_peak_rss_mb = max(result.stack_peak_rss_mb, _rss_mb(pid))
        _check(result, batch_id, client, listener, standin, moto)
    finally:
        listener.close()
        client.close()


def _check(result: ChaosResult, batch_id: str, client: E2EClient, listener: Any, standin: Standin, moto: MotoState) -> None:
    add = result.checks.append
    expected = {(a, None) for a in _keys(result.angles, result.colors)[0]}
    expected |= {(a, c) for a in _keys(result.angles, result.colors)[0] for c in _keys(result.angles, result.colors)[1]}

    # --- the WebSocket stream ------------------------------------------------------------
    messages = listener.of_batch(batch_id)
    result.websocket_messages = len(messages)
    finals = terminal_updates(messages)
    twice = {k: v for k, v in finals.items() if len(v) != 1}
    completions = listener.of_batch(batch_id, "marketplaceBatchCompleted")
    add(Check("marketplaceBatchCompleted exactly once", len(completions) == 1, f"{len(completions)} received"))

    # --- DynamoDB: cells, batch row, gallery ---------------------------------------------
    cells = {(c["angleKey"], c.get("colorKey")): c for c in moto.cells(batch_id)}
    statuses = {k: c["status"] for k, c in cells.items()}
    open_cells = [k for k, s in statuses.items() if s not in TERMINAL]
    add(Check("every cell row terminal in DynamoDB", set(cells) == expected and not open_cells,
              f"{len(cells)} rows, {len(open_cells)} not terminal"))
    snapshot = client.snapshot(batch_id)
    snap = {(c["angleKey"], c["colorKey"]): c["status"] for c in snapshot["cells"]}
    pushed = {k: v[-1] for k, v in finals.items()}
    disagree = [k for k in expected if not (snap.get(k) == statuses.get(k) == pushed.get(k))]
    add(Check("snapshot, DynamoDB and WebSocket agree on every cell", not disagree,
              f"{len(disagree)} cells disagree" + (f" e.g. {disagree[0]}" if disagree else "")))
    completed = [k for k, s in statuses.items() if s == "completed"]
    failed = [k for k, s in statuses.items() if s == "failed"]
    result.completed, result.failed = len(completed), len(failed)
    batch = moto.batch(batch_id)
    total, done, bad = int(batch["totalJobs"]), int(batch.get("completedJobs", 0)), int(batch.get("failedJobs", 0))
    # The batch's words must match its cells: completed only when every cell completed.
    honest = "completed" if done == total else ("failed" if done == 0 else "completed_with_failures")
    add(Check("batch row counts equal the cells and its status tells the truth",
              total == len(expected) and done + bad == total and done == len(completed) and bad == len(failed)
              and batch["status"] == honest,
              f"status {batch['status']}, totalJobs {total}, completedJobs {done}, failedJobs {bad}; "
              f"cells {len(expected)}, completed {len(completed)}, failed {len(failed)}"))
    assets = Counter((a["angleKey"], a.get("colorKey")) for a in moto.gallery_assets(OWNER, batch_id))
    wrong_assets = [k for k in expected if assets.get(k, 0) != (1 if k in completed else 0)]
    add(Check("exactly one gallery asset per completed cell, none for failed", not wrong_assets,
              f"{sum(assets.values())} assets for {len(completed)} completed cells; {len(wrong_assets)} wrong"))

    # --- S3 --------------------------------------------------------------------------------
    stored = moto.object_keys(f"batches/{batch_id}/")
    missing = [k for k in completed if cells[k].get("imageKey") not in stored or cells[k].get("thumbKey") not in stored]
    sample_bad = []
    for key in completed[:: max(1, len(completed) // 20)]:
        body = moto.s3.get_object(Bucket=moto.bucket, Key=cells[key]["imageKey"])["Body"].read(8)
        thumb = moto.s3.get_object(Bucket=moto.bucket, Key=cells[key]["thumbKey"])["Body"].read(8)
        if body != PNG or thumb != PNG:
            sample_bad.append(key)
    add(Check("every completed cell has its PNG and thumbnail in S3", not missing and not sample_bad,
              f"{len(stored)} objects for {len(completed)} completed cells; {len(missing)} missing; "
              f"{len(sample_bad)} of a {len(completed[:: max(1, len(completed) // 20)])}-cell sample not PNG"))

    # --- Step Functions ----------------------------------------------------------------------
    unfinished = moto.unfinished()
    add(Check("no execution left RUNNING", not any(unfinished.values()), str(unfinished)))

    # --- the stand-in: predictions per cell, faults ---------------------------------------
    predictions = [p for p in standin.predictions() if cell_of(p)[0] == batch_id]
    result.predictions = len(predictions)
    by_cell: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for p in sorted(predictions, key=lambda p: p["created_at"]):
        _, angle, color = cell_of(p)
        by_cell.setdefault((angle, color), []).append(p)
    several = {k: v for k, v in by_cell.items() if len(v) > 1}
    result.cells_with_several_predictions = len(several)
    needless = [k for k, ps in several.items() if any(p["status"] not in ("failed", "canceled") for p in ps[:-1])]
    add(Check("no prediction created twice for a cell unless the first failed", not needless and set(by_cell) <= expected,
              f"{len(predictions)} predictions for {len(by_cell)} cells; {len(several)} cells with more than one, "
              f"{len(needless)} of them needlessly"))
    report = standin.fault_report()
    result.limit_throttled = int(report.get("rate_limits", {}).get("create", {}).get("throttled", 0))
    result.injected, result.drawn, result.deliveries = report["effective"], report["drawn"], report["deliveries"]
    faults_of = {k: sorted({f for p in ps for f in report["by_prediction"].get(p["id"], [])}) for k, ps in by_cell.items()}
    examples = "; ".join(f"{k} pushed {v}, faults {faults_of.get(k, [])}" for k, v in list(twice.items())[:5])
    add(Check("every cell terminal exactly once on the WebSocket", set(finals) == expected and not twice,
              f"{len(finals)}/{len(expected)} cells pushed terminal, {len(twice)} pushed terminal more than once"
              + (f" ({examples})" if twice else "")
              + (f"; missing {sorted(expected - set(finals), key=str)[:3]}" if expected - set(finals) else "")))

    # --- what was lost -------------------------------------------------------------------------
    kinds: Counter[str] = Counter()
    for key in failed:
        ps = by_cell.get(key, [])
        error = str(cells[key].get("error") or "")
        if ps and ps[-1]["status"] == "failed":
            kinds["Replicate failed the prediction"] += 1
        elif key[1] is not None and statuses.get((key[0], None)) == "failed" and not ps:
            kinds["its angle failed"] += 1
        else:
            kinds["unexplained"] += 1
            result.lost.append(f"cell {key} failed without a cause ({error[:120]})")
    result.failure_kinds = dict(kinds)
    for key, ps in by_cell.items():
        if any(p["status"] == "succeeded" for p in ps) and key not in completed:
            result.lost.append(f"cell {key}: Replicate succeeded but the cell is {statuses.get(key)}")
    for key in missing:
        result.lost.append(f"cell {key}: completed without its image in S3")

