"""Issue 6 chaos run: one batch on the local stack while the Replicate stand-in injects every
fault kind (failures, duplicate / dropped / reordered webhooks, 429s on create, slow downloads).
Prints per fault kind the counts injected, every invariant's result, wall time and what was lost.

Run: .venv/bin/python benchmarks/chaos_run.py --angles 25 --colors 39     (1,000 cells)
     .venv/bin/python benchmarks/chaos_run.py                             (CI size: 6 x 8 = 54 cells)
Exit status 1 when an invariant fails or anything was lost.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from tests.support.chaos import DEFAULT_FAULTS, run_chaos  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--angles", type=int, default=6)
    parser.add_argument("--colors", type=int, default=8)
    parser.add_argument("--faults", default=DEFAULT_FAULTS, help=f"STANDIN_FAULTS (default {DEFAULT_FAULTS})")
    parser.add_argument("--seed", default="7", help="STANDIN_SEED")
    parser.add_argument("--latency", type=float, help="STANDIN_LATENCY_SECONDS (default: 0.2; 2.0 above 200 cells)")
    parser.add_argument("--max-running", help="STANDIN_MAX_RUNNING (default: unbounded; 6 above 200 cells; 0 = unbounded)")
    parser.add_argument("--reconcile-after", help="RECONCILE_AFTER_SECONDS (default: 2; 45 above 200 cells)")
    parser.add_argument("--schedule-seconds", help="LOCAL_SCHEDULE_SECONDS (default: 1; 5 above 200 cells)")
    parser.add_argument("--create-limit", help="STANDIN_CREATE_LIMIT_PER_MINUTE (default: 600; 240 above 200 cells, "
                                               "under the product's pacing, so creates meet 429s)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for the batch")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()

    overrides = {name: value for name, value in (("STANDIN_MAX_RUNNING", args.max_running),
                                                 ("RECONCILE_AFTER_SECONDS", args.reconcile_after),
                                                 ("LOCAL_SCHEDULE_SECONDS", args.schedule_seconds),
                                                 ("STANDIN_CREATE_LIMIT_PER_MINUTE", args.create_limit)) if value is not None}
    result = run_chaos(args.angles, args.colors, faults=args.faults, seed=args.seed, latency=args.latency,
                       timeout=args.timeout, extra_env=overrides)
    print("\n".join(result.lines()))
    print(f"stack log: {result.stack_log}")
    if args.json:
        args.json.write_text(json.dumps(result.as_dict(), indent=2, default=str))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
