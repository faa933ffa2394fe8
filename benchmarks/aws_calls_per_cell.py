"""AWS calls per completed cell, by function and operation, on the local stack (in this process).

An 8 x 9 batch (80 cells) with one page listening (one WebSocket connection): every botocore call
the product's code makes while the batch runs is counted and attributed to the function whose
handler made it (the local stack's own calls, e.g. moto's Step Functions invoking Lambda, are
not the product's and are left out). Goal (issue 10): at most 9 calls per completed cell, pushes
to the one open page excluded (PostToConnection scales with the pages a dealer has open).

Run: .venv/bin/python benchmarks/aws_calls_per_cell.py [--angles 8 --colors 9]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from botocore.client import BaseClient  # noqa: E402

from tests.support.e2e_client import E2EClient, jpeg_bytes  # noqa: E402
from tests.support.inprocess_stack import stack_in_process  # noqa: E402

FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "shared"
PER_PAGE = {"PostToConnection"}
GOAL = 9.0


class CallCounter:
    """Wraps BaseClient._make_api_call: (function, operation) for calls the product's code made."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.enabled = False
        self._lock = threading.Lock()
        self._original = BaseClient._make_api_call

    def __enter__(self) -> CallCounter:
        counter = self

        def counted(client: Any, operation: str, params: Any) -> Any:
            if counter.enabled:
                function = _calling_function()
                if function:
                    with counter._lock:
                        counter.counts[(function, operation)] += 1
            return counter._original(client, operation, params)

        BaseClient._make_api_call = counted  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        BaseClient._make_api_call = self._original  # type: ignore[method-assign]


def _calling_function() -> str | None:
    """The function folder of the nearest handler frame; None for calls no product code made."""
    frame = sys._getframe(2)
    in_layer = False
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if FUNCTIONS in path.parents:
            return path.relative_to(FUNCTIONS).parts[0]
        in_layer = in_layer or LAYER in path.parents
        frame = frame.f_back  # type: ignore[assignment]
    # Layer code on a helper thread (the push pool, S3 puts): no handler frame on that stack.
    return "(layer, pool thread)" if in_layer else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--angles", type=int, default=8, help="at most 9 (the sample presets)")
    parser.add_argument("--colors", type=int, default=9, help="at most 9")
    args = parser.parse_args()
    angles = ["front_0", "front_right_45", "side_90", "rear_right_135", "rear_180", "rear_left_225", "side_270",
              "front_left_315", "top_down"][: args.angles]
    colors = ["red_metallic", "blue_metallic", "black_gloss", "white_pearl", "silver_metallic", "grey_matte",
              "green_racing", "yellow_solid", "orange_pearl", ][: args.colors]

    env = {"STANDIN_LATENCY_SECONDS": "0.3", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with CallCounter() as counter, stack_in_process(env, schedule_seconds=3600) as stack:
        client = E2EClient(stack.base_url, user="calls")
        listener = client.listen()
        sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
        time.sleep(0.5)
        counter.enabled = True
        batch_id = client.create_batch(sources, angles, colors)["batchId"]
        listener.wait_for(lambda _: bool(listener.of_batch(batch_id, "marketplaceBatchCompleted")), timeout=120)
        time.sleep(0.5)  # the last pushes and resumes finish after the completion message
        counter.enabled = False
        snapshot = client.snapshot(batch_id)
        listener.close()
        client.close()

    cells = len(angles) * (1 + len(colors))
    completed = snapshot["completedJobs"]
    by_function: dict[str, Counter[str]] = {}
    for (function, operation), count in counter.counts.items():
        by_function.setdefault(function, Counter())[operation] += count
    total = sum(counter.counts.values())
    per_page = sum(c for (_, op), c in counter.counts.items() if op in PER_PAGE)
    print(f"{len(angles)} x {len(colors)} batch: {cells} cells, {completed} completed, {snapshot['failedJobs']} failed; "
          f"one page listening")
    for function in sorted(by_function):
        ops = ", ".join(f"{op} {n / completed:.2f}" for op, n in by_function[function].most_common())
        print(f"  {function}: {sum(by_function[function].values()) / completed:.2f} per cell ({ops})")
    operations = Counter[str]()
    for (_, op), count in counter.counts.items():
        operations[op] += count
    print("  by operation: " + ", ".join(f"{op} {n / completed:.2f}" for op, n in operations.most_common()))
    excluding = (total - per_page) / completed
    print(f"AWS calls per completed cell: {total / completed:.2f} in all; {excluding:.2f} without the "
          f"{per_page / completed:.2f} pushes to the open page (goal <= {GOAL:g}: "
          f"{excluding / GOAL:.2f} x goal)")


if __name__ == "__main__":
    main()
