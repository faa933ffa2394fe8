"""Issue 4 benchmark: batches on the running local stack, measured as a client sees them.

1. 3 x 3 batch with STANDIN_LATENCY_SECONDS=2: wall time from POST to marketplaceBatchCompleted,
   divided by the ideal (2 x latency: one angle, then one colour). Goal <= 1.10.
2. 30 x 40 batch (1,230 cells) with a short latency: wall time, cells per second, the stack's peak
   RSS, and wall / ideal. Goal <= 1.25 x ideal.

Run: .venv/bin/python benchmarks/local_stack_throughput.py [--large-latency 5] [--skip-large]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from tests.support.csv_server import serve_folder  # noqa: E402
from tests.support.e2e_client import E2EClient, jpeg_bytes  # noqa: E402
from tests.support.presets_factory import write_large_presets  # noqa: E402
from tests.support.stack_process import running_stack  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run_batch(latency: float, angles: list[str], colors: list[str], env: dict[str, str] | None = None,
              runs: int = 1) -> list[dict]:
    """The same batch `runs` times on one stack: the first on a cold stack, the rest warm."""
    stack_env = {"STANDIN_LATENCY_SECONDS": str(latency), "POWERTOOLS_LOG_LEVEL": "WARNING", **(env or {})}
    results = []
    with running_stack(stack_env, timeout=120) as urls:
        client = E2EClient(urls["base_url"], user="bench")
        listener = client.listen()
        sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
        for _ in range(runs):
            started = time.perf_counter()
            batch_id = client.create_batch(sources, angles, colors)["batchId"]
            accepted = time.perf_counter() - started
            listener.wait_for(lambda _, b=batch_id: bool(listener.of_batch(b, "marketplaceBatchCompleted")), timeout=900)
            wall = time.perf_counter() - started
            snapshot = client.snapshot(batch_id)
            cells = len(angles) * (1 + len(colors))
            results.append({"cells": cells, "accepted_s": accepted, "wall_s": wall, "ideal_s": 2 * latency,
                            "ratio": wall / (2 * latency), "completed": snapshot["completedJobs"],
                            "failed": snapshot["failedJobs"], "peak_rss_mb": peak_rss_mb(int(urls["pid"])),
                            "errors": sorted({str(c["error"])[:160] for c in snapshot["cells"] if c["error"]})})
        listener.close()
        client.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--large-latency", type=float, default=5.0)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()

    for label, small in zip(("cold stack", "warm stack"),
                            run_batch(2.0, ["front_0", "side_90", "rear_180"],
                                      ["red_metallic", "blue_metallic", "black_gloss"], runs=2), strict=True):
        print(f"3x3 ({small['cells']} cells), latency 2 s, {label}: wall {small['wall_s']:.2f} s / ideal "
              f"{small['ideal_s']:.1f} s = {small['ratio']:.2f} x (goal <= 1.10); accepted in "
              f"{small['accepted_s'] * 1000:.0f} ms; {small['completed']} completed, {small['failed']} failed; "
              f"stack peak RSS {small['peak_rss_mb']:.0f} MB")
    if args.skip_large:
        return
    folder = Path(tempfile.mkdtemp())
    shutil.copy(ROOT / "samples" / "presets" / "global_prompts.csv", folder)
    write_large_presets(folder, angles=30, colors=40)
    with serve_folder(folder) as csv_url:
        env = {"GLOBAL_PROMPTS_CSV_URL": f"{csv_url}/global_prompts.csv",
               "ANGLE_PRESETS_CSV_URL": f"{csv_url}/angle_presets.csv",
               "COLOR_PRESETS_CSV_URL": f"{csv_url}/color_presets.csv"}
        large = run_batch(args.large_latency, [f"angle_{i:02d}" for i in range(30)],
                          [f"color_{i:02d}" for i in range(40)], env)[0]
    print(f"30x40 ({large['cells']} cells), latency {args.large_latency:g} s: wall {large['wall_s']:.1f} s / ideal "
          f"{large['ideal_s']:.1f} s = {large['ratio']:.2f} x (goal <= 1.25); "
          f"{large['cells'] / large['wall_s']:.1f} cells/s; accepted in {large['accepted_s'] * 1000:.0f} ms; "
          f"{large['completed']} completed, {large['failed']} failed; stack peak RSS {large['peak_rss_mb']:.0f} MB")
    for error in large["errors"]:
        print(f"  failure reason: {error}")


if __name__ == "__main__":
    main()
