"""Cold start: how long each handler's ``import app`` takes in a fresh interpreter, as Lambda's
init runs it (the template's environment for that function, tracing on where the template asks
for it, the layer and the function folder on sys.path); median over N runs after one warm-up
that fills the bytecode cache. Then the top self-time imports (-X importtime) of the slowest.

Prints figures (never asserts). Goal: <= 300 ms per handler.
Run: .venv/bin/python benchmarks/handler_imports.py [runs]
"""

from __future__ import annotations

import os
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from tests.support.cold_start import cold_start, function_folders, self_times  # noqa: E402

GOAL_MS = 300.0
TOP = 15


def main(runs: int = 7) -> None:
    folders = []
    for folder in function_folders():
        try:
            cold_start(folder)  # warm-up: compiles the bytecode, fills the page cache
        except RuntimeError as error:
            print(f"{folder}: not measured, {str(error).splitlines()[-1]}")
        else:
            folders.append(folder)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):  # interleaved, so a burst of load on the machine hits every handler alike
        for folder in folders:
            samples[folder].append(cold_start(folder).ms)

    print(f"Handler import (Lambda init), fresh interpreter, median of {runs} runs")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (figures are wall time)")
    print(f"{'handler':<20}{'p50 ms':>10}{'min ms':>10}{'max ms':>10}{'x goal':>9}")
    for folder in folders:
        values = samples[folder]
        p50 = statistics.median(values)
        print(f"{folder:<20}{p50:>10.1f}{min(values):>10.1f}{max(values):>10.1f}{p50 / GOAL_MS:>9.2f}")
    slowest = max(folders, key=lambda folder: statistics.median(samples[folder]))
    worst = max(statistics.median(samples[folder]) for folder in folders)
    print(f"slowest: {slowest} {worst:.1f} ms = {worst / GOAL_MS:.2f} x the {GOAL_MS:.0f} ms goal")

    rows = self_times(cold_start(slowest, importtime=True).importtime)
    by_package: dict[str, float] = defaultdict(float)
    for name, ms in rows:
        by_package[name.split(".")[0]] += ms
    print(f"\nTop {TOP} self times importing {slowest} (-X importtime, which inflates them)")
    for name, ms in rows[:TOP]:
        print(f"{ms:>8.1f} ms  {name}")
    print(f"\nSelf time per top-level package importing {slowest}")
    for name, ms in sorted(by_package.items(), key=lambda item: item[1], reverse=True)[:TOP]:
        print(f"{ms:>8.1f} ms  {name}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
