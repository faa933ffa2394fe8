"""Issue 10 benchmark: batches on the running local stack, measured as a client sees them.

1. 3 x 3 batch at 2 s model latency: wall time from POST to marketplaceBatchCompleted, against the
   ideal 2 x latency (one angle, then one colour; 12 creates fit Replicate's burst). Goal <= 1.10.
   Twice on one stack, after the client read the presets as the page and the CLI do: the first
   batch (cold: its Lambdas' first invocations import Replicate's client, Pillow's codecs and
   coloraide, as a new Lambda container does) and the second (warm).
2. 30 x 40 batch (1,230 cells) at 5 s latency with Replicate's create limit on (the stand-in's
   default, 600 a minute): every cell must complete; the ideal is the time the limit allows
   (1,230 creates at 600 a minute) plus 2 x latency. Goal <= 1.25; the stack's peak memory (all its
   processes) <= 700 MB.
3. The same 30 x 40 batch with the limit off (stand-in and product pacing): CPU per cell of the
   whole stack (goal <= 80 ms) and cells per second.

The machine's pace (``tests.support.machine_pace``) is printed first and last: CPU figures swing
with a shared machine's speed, and the pace says how fast it ran.

Run: .venv/bin/python benchmarks/local_stack_throughput.py [--skip-large] [--large-latency 5]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from tests.support.csv_server import serve_folder  # noqa: E402
from tests.support.e2e_client import E2EClient, jpeg_bytes  # noqa: E402
from tests.support.machine_pace import describe, pace  # noqa: E402
from tests.support.presets_factory import write_large_presets  # noqa: E402
from tests.support.stack_process import monitor_stack, running_stack  # noqa: E402

CREATES_PER_MINUTE = 600
NO_LIMIT = {"STANDIN_CREATE_LIMIT_PER_MINUTE": "0", "REPLICATE_CREATES_PER_MINUTE": "0"}
TOKEN = "r8_benchmark_local_token_0123456789"  # the stack's Replicate token, so the report can be read


def _standin_counts(urls: dict[str, Any]) -> dict[str, Any]:
    try:
        report = httpx.get(f"{urls['standin_url']}/_standin/faults", timeout=5,
                           headers={"Authorization": f"Bearer {TOKEN}"}).json()
    except (httpx.HTTPError, ValueError, KeyError):
        return {}
    return dict(report.get("rate_limits", {}).get("create", {}))


def run_batch(latency: float, angles: list[str], colors: list[str], env: dict[str, str] | None = None,
              runs: int = 1) -> list[dict[str, Any]]:
    """The same batch `runs` times on one stack: the first on a cold stack, the rest warm."""
    stack_env = {"STANDIN_LATENCY_SECONDS": str(latency), "POWERTOOLS_LOG_LEVEL": "WARNING",
                 "LOCAL_REPLICATE_API_TOKEN": TOKEN, **(env or {})}
    results = []
    with running_stack(stack_env, timeout=120) as urls:
        client = E2EClient(urls["base_url"], user="bench")
        listener = client.listen()
        # As the page and the CLI do: the presets (and the price) are read before anything is
        # uploaded, so a stack's first batch never fetches them.
        client.presets()
        sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
        for _ in range(runs):
            with monitor_stack(urls) as usage:
                started = time.perf_counter()
                batch_id = client.create_batch(sources, angles, colors)["batchId"]
                accepted = time.perf_counter() - started
                listener.wait_for(lambda _, b=batch_id: bool(listener.of_batch(b, "marketplaceBatchCompleted")),
                                  timeout=1800)
                wall = time.perf_counter() - started
            snapshot = client.snapshot(batch_id)
            cells = len(angles) * (1 + len(colors))
            results.append({"cells": cells, "accepted_s": accepted, "wall_s": wall,
                            "completed": snapshot["completedJobs"], "failed": snapshot["failedJobs"],
                            "cpu_s": usage.cpu_s, "peak_rss_mb": usage.peak_rss_mb, "by_role": usage.by_role(),
                            "standin": _standin_counts(urls),
                            "errors": sorted({str(c["error"])[:160] for c in snapshot["cells"] if c["error"]})})
        listener.close()
        client.close()
    return results


def _large(latency: float, env: dict[str, str]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp())
    try:
        shutil.copy(ROOT / "samples" / "presets" / "global_prompts.csv", folder)
        write_large_presets(folder, angles=30, colors=40)
        with serve_folder(folder) as csv_url:
            presets = {"GLOBAL_PROMPTS_CSV_URL": f"{csv_url}/global_prompts.csv",
                       "ANGLE_PRESETS_CSV_URL": f"{csv_url}/angle_presets.csv",
                       "COLOR_PRESETS_CSV_URL": f"{csv_url}/color_presets.csv"}
            return run_batch(latency, [f"angle_{i:02d}" for i in range(30)], [f"color_{i:02d}" for i in range(40)],
                             {**presets, **env})[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _outcome(result: dict[str, Any]) -> str:
    cells = result["cells"]
    # The stand-in is Replicate's double: on AWS its CPU and memory are Replicate's, not ours.
    roles = "; ".join(f"{name} {cpu * 1000 / cells:.0f} ms/cell, peak {peak:.0f} MB"
                      for name, (cpu, peak) in sorted(result["by_role"].items()))
    return (f"{result['completed']} of {cells} completed, {result['failed']} failed; accepted in "
            f"{result['accepted_s'] * 1000:.0f} ms; stack CPU {result['cpu_s'] * 1000 / cells:.0f} ms per cell; "
            f"stack peak RSS {result['peak_rss_mb']:.0f} MB (all processes); by process: {roles}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large-latency", type=float, default=5.0)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()

    print(describe(pace()))
    for label, small in zip(("cold stack", "warm stack"),
                            run_batch(2.0, ["front_0", "side_90", "rear_180"],
                                      ["red_metallic", "blue_metallic", "black_gloss"], runs=2), strict=True):
        ideal = 2 * 2.0
        print(f"3x3 ({small['cells']} cells), latency 2 s, {label}: wall {small['wall_s']:.2f} s / ideal {ideal:.1f} s "
              f"= {small['wall_s'] / ideal:.2f} x (goal <= 1.10); {_outcome(small)}")
    if args.skip_large:
        return

    limited = _large(args.large_latency, {})
    ideal = limited["cells"] / (CREATES_PER_MINUTE / 60) + 2 * args.large_latency
    counts = limited["standin"]
    print(f"30x40 ({limited['cells']} cells), latency {args.large_latency:g} s, Replicate's limit on "
          f"({CREATES_PER_MINUTE}/min): wall {limited['wall_s']:.1f} s / ideal {ideal:.1f} s = "
          f"{limited['wall_s'] / ideal:.2f} x (goal <= 1.25; peak RSS goal <= 700 MB); {_outcome(limited)}; "
          f"stand-in: {counts.get('created', '?')} created, {counts.get('throttled', '?')} creates answered 429")
    for error in limited["errors"]:
        print(f"  failure reason: {error}")

    free = _large(args.large_latency, NO_LIMIT)
    print(f"30x40 ({free['cells']} cells), latency {args.large_latency:g} s, no limit: wall {free['wall_s']:.1f} s, "
          f"{free['cells'] / free['wall_s']:.1f} cells/s; CPU per cell {free['cpu_s'] * 1000 / free['cells']:.0f} ms "
          f"(goal <= 80 ms: {free['cpu_s'] * 1000 / free['cells'] / 80:.2f} x goal); {_outcome(free)}")
    for error in free["errors"]:
        print(f"  failure reason: {error}")
    print(describe(pace()))


if __name__ == "__main__":
    main()
