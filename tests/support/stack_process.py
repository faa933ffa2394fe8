"""The local stack as a subprocess on free ports (what e2e and browser tests drive)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.support.process_tree import TreeMonitor, TreeUsage

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_stack(env: Mapping[str, str] | None = None, timeout: float = 90) -> Iterator[dict[str, Any]]:
    """Yields the ready file's URLs; the stack's output goes to a log file named in failures."""
    workdir = Path(tempfile.mkdtemp(prefix="stack-"))
    ready, log_path = workdir / "ready.json", workdir / "stack.log"
    ports = [str(free_port()) for _ in range(3)]
    command = [sys.executable, "-m", "local_stack", "--port", ports[0], "--standin-port", ports[1],
               "--moto-port", ports[2], "--ready-file", str(ready)]
    child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=child_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + timeout
            while not ready.exists():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"local stack did not start; log:\n{log_path.read_text()[-4000:]}")
                time.sleep(0.1)
            urls = json.loads(ready.read_text())
            urls["log_path"] = str(log_path)
            yield urls
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def stack_usage(urls: Mapping[str, Any]) -> TreeUsage:
    """One reading of the stack's processes (it and its children: the stand-in's process):
    `.total_cpu_s` CPU seconds since each started, `.total_rss_mb` now, `.hwm_mb` per pid."""
    return TreeUsage.sample(int(urls["pid"]))


def monitor_stack(urls: Mapping[str, Any], interval_s: float = 0.25) -> TreeMonitor:
    """`with monitor_stack(urls) as usage: <run a batch>` then `usage.cpu_s` (CPU seconds of the
    whole process tree during the block), `usage.peak_rss_mb` (largest summed RSS seen),
    `usage.sum_of_peaks_mb` (each process's VmHWM, summed), `usage.cpu_by_pid`."""
    return TreeMonitor(int(urls["pid"]), interval_s)
