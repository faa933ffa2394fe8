"""How fast this machine runs Python right now, for benchmarks that print CPU time.

A shared VM's speed swings by half from hour to hour (the same code's 30 x 40 batch measured 69
to 103 ms of CPU per cell in one afternoon). A fixed pure-Python workload's CPU time, taken in the
same run, lets a reader tell the code's cost from the machine's mood: ``pace()`` / ``IDLE_MS``.
"""

from __future__ import annotations

import statistics
import time

IDLE_MS = 114.0
"""``pace()`` on the project's 2-core machine when idle (2026-11-30)."""


def _workload() -> int:
    total = 0
    for i in range(2_000_000):
        total += i * i % 7
    return total


def pace(rounds: int = 5) -> float:
    """The workload's CPU milliseconds, median of ``rounds``."""
    samples = []
    for _ in range(rounds):
        started = time.process_time()
        _workload()
        samples.append((time.process_time() - started) * 1000)
    return statistics.median(samples)


def describe(pace_ms: float) -> str:
    return f"machine pace {pace_ms:.0f} ms for the reference loop ({pace_ms / IDLE_MS:.2f} x its idle {IDLE_MS:.0f} ms)"
