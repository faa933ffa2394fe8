"""Runs every benchmark in turn; each prints its own figures (ratios against an ideal or a goal).

Run: make bench   (or .venv/bin/python benchmarks/run_all.py [--with-large] [--with-chaos])
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(*args: str) -> int:
    print(f"\n=== {' '.join(args)}", flush=True)
    return subprocess.call([sys.executable, *args], cwd=HERE.parent)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--with-large", action="store_true", help="also the 30 x 40 batch on the local stack")
    parser.add_argument("--with-chaos", action="store_true", help="also the 1,000-cell chaos run")
    args = parser.parse_args()
    codes = [
        run(str(HERE / "handler_imports.py")),
        run(str(HERE / "execution_input_size.py")),
        run(str(HERE / "accept_batch.py")),
        run(str(HERE / "webhook_path.py")),
        run(str(HERE / "color_check.py")),
        run(str(HERE / "standin_render.py")),
        run(str(HERE / "aws_calls_per_cell.py")),
        run(str(HERE / "archive_build.py")),
        run(str(HERE / "local_stack_throughput.py"), *([] if args.with_large else ["--skip-large"])),
    ]
    if args.with_chaos:
        codes.append(run(str(HERE / "chaos_run.py"), "--angles", "25", "--colors", "39"))
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
