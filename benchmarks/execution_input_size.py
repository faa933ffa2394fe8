"""Step Functions payload sizes of a run (limit 256 KiB per input, output and state), printed as
ratios of the limit: a 30 x 40 batch with realistic keys, and the largest batch the API allows
(1,000 angles x 1,000 colours, every key 64 characters)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from local_stack.aws_limits import STEP_FUNCTIONS_PAYLOAD_MAX_BYTES  # noqa: E402
from tests.support.run_size import largest_allowed, run_sizes  # noqa: E402


def main() -> int:
    cases = {"30 x 40 (keys of 14 chars, e.g. front_right_45)": run_sizes(30, 40, 14),
             "largest allowed: 1,000 x 1,000, keys of 64 chars": largest_allowed()}
    worst = 0.0
    for label, sizes in cases.items():
        for what, size in sizes.items():
            ratio = size / STEP_FUNCTIONS_PAYLOAD_MAX_BYTES
            worst = max(worst, ratio)
            print(f"{label:52} {what:16} {size:>9,} bytes = {ratio:6.3f} x the 262,144-byte limit")
    return 0 if worst < 1 else 1


if __name__ == "__main__":
    raise SystemExit(main())
