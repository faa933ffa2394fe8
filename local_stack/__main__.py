"""`python -m local_stack`: run the whole product on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

from .children import lean_malloc
from .poller import TARGETS, choose_target, describe
from .stack import LocalStack


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local_stack", description=__doc__)
    parser.add_argument("--port", type=int, default=_port("PORT", 3000), help="gateway port (env PORT, 3000)")
    parser.add_argument("--standin-port", type=int, default=_port("STANDIN_PORT", 3100), help="Replicate stand-in port (3100)")
    parser.add_argument("--moto-port", type=int, default=_port("MOTO_PORT", 3200), help="moto server port (3200)")
    parser.add_argument("--ready-file", type=Path, help="write the URLs as JSON here once ready")
    parser.add_argument("--template", type=Path, help="template file (default: <root>/template.yaml)")
    parser.add_argument("--root", type=Path, help="project root for CodeUri and DefinitionUri")
    parser.add_argument(
        "--schedule-seconds",
        type=float,
        default=None,
        help="fire Schedule events this often (env LOCAL_SCHEDULE_SECONDS, 5; 0 = off)",
    )
    parser.add_argument("--quiet", action="store_true", help="no request or cell lines")
    parser.add_argument("--no-standin", action="store_true", help="do not start the Replicate stand-in")
    parser.add_argument(
        "--standin-in-process",
        action="store_true",
        help="run the stand-in in this process instead of its own process",
    )
    parser.add_argument(
        "--moto-in-process",
        action="store_true",
        help="run moto in this process instead of its own process (one core for moto and the handlers)",
    )
    parser.add_argument(
        "--replicate",
        choices=TARGETS,
        default=None,
        help="which Replicate: the stand-in; standin-remote (STANDIN_REMOTE=1): the stand-in playing the remote "
        "Replicate; replicate (REPLICATE_API_TOKEN set): api.replicate.com, real images, billed",
    )
    parser.add_argument(
        "--handler-log-level",
        default="WARNING",
        help="POWERTOOLS_LOG_LEVEL of the handlers unless the shell sets it (WARNING keeps one line per request)",
    )
    return parser.parse_args(argv)


def write_ready_file(path: Path, stack: LocalStack) -> None:
    payload = {
        **stack.urls,
        "pid": os.getpid(),
        "pids": stack.pids,
        "startup_seconds": round(stack.startup_seconds or 0, 3),
    }
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    lean_malloc()
    # Powertools warns on every invocation that publishes no metric; metrics are off locally.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    env = {} if os.environ.get("POWERTOOLS_LOG_LEVEL") else {"POWERTOOLS_LOG_LEVEL": args.handler_log_level}
    stack = LocalStack(
        env=env,
        port=args.port,
        standin_port=args.standin_port,
        moto_port=args.moto_port,
        quiet=args.quiet,
        template_path=args.template,
        root=args.root,
        schedule_seconds=args.schedule_seconds,
        standin=not args.no_standin,
        standin_process=not args.standin_in_process,
        moto_process=not args.moto_in_process,
        warm=True,
        replicate=args.replicate or choose_target(os.environ),
    )
    try:
        stack.start()
    except OSError as exc:
        hint = "is another one running? try --port/--standin-port/--moto-port"
        print(f"local stack: cannot start: {exc} ({hint})", file=sys.stderr)
        return 1
    urls = stack.urls
    print(
        f"ready in {stack.startup_seconds:.1f}s  page {urls['page']}  API {urls['api']}  "
        f"WebSocket {urls['ws_url']}  stand-in {urls['standin_url']}  moto {urls['moto_url']}",
        flush=True,
    )
    print(describe(stack.replicate, urls["standin_url"]), flush=True)
    if args.ready_file:
        write_ready_file(args.ready_file, stack)
    status = 0
    try:
        while not stop.wait(0.5):
            if stack.failure:  # a child process died: the stack is not whole any more
                status = 1
                break
    finally:
        print("stopping...", flush=True)
        started = time.perf_counter()
        stack.stop()
        if args.ready_file:
            args.ready_file.unlink(missing_ok=True)
        print(f"stopped in {time.perf_counter() - started:.1f}s", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # Handler threads (e.g. one waiting on a slow call) must not keep the process alive.
    os._exit(status)


if __name__ == "__main__":
    sys.exit(main())
