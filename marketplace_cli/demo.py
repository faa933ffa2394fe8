"""`demo` (what `make demo` runs): the first acceptance scenario end to end on this machine.

Starts the local stack as a subprocess on free ports, uploads the bundled sample photos, creates
the batch (angles front_0 + side_90, colours red_metallic + blue_metallic, auto-colourise on),
follows it over the WebSocket as the web app does, downloads everything into `out/<batchId>/`
and stops the stack.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from marketplace import pricing

from .client import ApiClient, ApiError
from .download import download_batch
from .files import FileRejected
from .flows import create_batch
from .watch import TIMES, TextReporter, WatchError, cell_name

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "photos"
ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic"]
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
DEFAULT_LATENCY = "1.0"


class DemoError(Exception):
    """The demo could not run (stack did not start, API error...); the message says why."""


def free_ports(count: int) -> list[int]:
    """`count` distinct ports free right now (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def sample_photos(folder: Path = SAMPLES) -> list[Path]:
    photos = sorted(folder.glob("*.jpg"))
    if not photos:
        raise DemoError(f"no sample photos in {folder} (run: python {folder / 'make_photos.py'})")
    return photos


@dataclass
class StackProcess:
    """`python -m local_stack` on free ports, its output in a log file; `stop()` is SIGINT, then kill."""

    root: Path = ROOT
    env: dict[str, str] = field(default_factory=dict)
    ready_timeout: float = READY_TIMEOUT
    process: subprocess.Popen[bytes] | None = None
    urls: dict[str, Any] = field(default_factory=dict)
    workdir: Path | None = None
    startup_seconds: float | None = None
    stopped: bool = False

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None
        return self.workdir / "local-stack.log"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except (OSError, AssertionError):
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def start(self, attempts: int = 3) -> dict[str, Any]:
        """Start and wait for the ready file; a port taken between picking and binding is retried."""
        self.workdir = self.workdir or Path(tempfile.mkdtemp(prefix="marketplace-demo-"))
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once()
            except DemoError:
                if attempt == attempts or "cannot start" not in self.log_tail():
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> dict[str, Any]:
        assert self.workdir is not None
        ready_file = self.workdir / "ready.json"
        ready_file.unlink(missing_ok=True)
        port, standin_port, moto_port = free_ports(3)
        command = [
            sys.executable, "-m", "local_stack",
            "--port", str(port), "--standin-port", str(standin_port), "--moto-port", str(moto_port),
            "--ready-file", str(ready_file),
        ]  # fmt: skip
        env = {**os.environ, **self.env}
        env.setdefault("STANDIN_LATENCY_SECONDS", DEFAULT_LATENCY)
        env["PYTHONUNBUFFERED"] = "1"
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us; we stop the stack in order
            )
        deadline = started + self.ready_timeout
        while time.monotonic() < deadline:
            if ready_file.is_file():
                try:
                    self.urls = json.loads(ready_file.read_text())
                except ValueError:
                    self.urls = {}
                if self.urls.get("base_url"):
                    self.startup_seconds = time.monotonic() - started
                    return self.urls
            code = self.process.poll()
            if code is not None:
                raise DemoError(f"the local stack exited with code {code} before it was ready:\n{self.log_tail()}")
            time.sleep(0.1)
        self.stop()
        raise DemoError(f"the local stack was not ready after {self.ready_timeout:g}s:\n{self.log_tail()}")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        process = self.process
        if process is None:
            return None
        self.stopped = True
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait(5)
        return process.returncode

    def cleanup(self) -> None:
        if self.workdir and self.workdir.exists():
            for child in self.workdir.iterdir():
                with contextlib.suppress(OSError):
                    child.unlink()
            with contextlib.suppress(OSError):
                self.workdir.rmdir()


def _page_url(base_url: str, batch_id: str | None = None, user: str | None = None) -> str:
    query = []
    if batch_id:
        query.append(f"batch={batch_id}")
    if user:
        query.append(f"user={user}")
    return f"{base_url}/" + (f"?{'&'.join(query)}" if query else "")


def run_demo(
    out: Path | None = None,
    *,
    user: str | None = None,
    timeout: float = 600.0,
    photos: list[Path] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    json_output: bool = False,
    stack_factory: Callable[[], StackProcess] = StackProcess,
) -> int:
    """0 when all six cells completed and were saved; 2 naming each failed cell; 1 on errors."""
    out_stream, err_stream = stdout or sys.stdout, stderr or sys.stderr

    def say(text: str = "") -> None:
        if not json_output:
            print(text, file=out_stream, flush=True)

    began = time.monotonic()
    photos = photos or sample_photos()
    say(f"Car Marketplace demo: one car, poorly lit photos → studio angles {TIMES} paint colours")
    say(f"  scenario  angles {' + '.join(ANGLES)}, colours {' + '.join(COLORS)}, auto-colourise on")
    say("  starting the local stack (moto, the real Lambda handlers and state machine, gateway, Replicate stand-in)…")
    stack = stack_factory()
    result: dict[str, Any] = {"ok": False}
    try:
        urls = stack.start()
        base = str(urls["base_url"])
        latency = stack.env.get("STANDIN_LATENCY_SECONDS") or os.environ.get("STANDIN_LATENCY_SECONDS") or DEFAULT_LATENCY
        say(f"  ready in {stack.startup_seconds or 0:.1f}s")
        say(f"    API        {urls.get('api') or base + '/api'}")
        say(f"    WebSocket  {urls.get('ws_url')}")
        replicate = urls.get("replicate") or "standin"
        if replicate == "replicate":
            say("    Replicate  api.replicate.com with your REPLICATE_API_TOKEN: real images, billed per image "
                "(the estimate comes before the batch)")
        else:
            mode = ", playing the remote Replicate: Files API, polled" if replicate == "standin-remote" else ""
            say(f"    stand-in   {urls.get('standin_url')}  (latency {latency}s per prediction{mode})")
        say(f"    moto       {urls.get('moto_url')}")
        say(f"    web page   {_page_url(base, user=user)}")
        reporter = TextReporter(out_stream) if not json_output else None
        with ApiClient(base, user=user) as api:
            say(_estimate(api, replicate))
            say(f"Uploading {len(photos)} sample photos from {_relative(photos[0].parent)}/")

            def created(batch: dict[str, Any]) -> None:
                say(f"Batch {batch['batchId']} created: {batch.get('totalJobs')} jobs")
                say(f"  watch it in a browser: {_page_url(base, batch['batchId'], user)}")

            outcome = create_batch(
                api,
                list(photos),
                ANGLES,
                COLORS,
                auto_colorize=True,
                watch=True,
                reporter=reporter,
                timeout=timeout,
                log=say,
                on_created=created,
                abort_check=lambda: None if stack.alive else "the local stack stopped unexpectedly",
            )
            state = outcome.state
            assert state is not None
            batch_id = outcome.batch_id
            target = out or Path("out") / batch_id
            say(f"Downloading into {_relative(target)}/")
            download = download_batch(api, batch_id, target, log=lambda m: print(m, file=err_stream))

        _stop(stack, say, err_stream)
        elapsed = time.monotonic() - began
        pngs = download.files
        failed = [c for c in download.cells if c.status != "completed"]
        result = {
            "ok": not failed,
            "batchId": batch_id,
            "out": str(download.out_dir),
            "files": [str(p) for p in pngs],
            "matrix": str(download.matrix_path),
            "manifest": str(download.manifest_path),
            "seconds": round(elapsed, 1),
            "failed": [{"cell": cell_name(c.angleKey, c.colorKey), "error": c.error} for c in failed],
        }
        say(f"Results in {_relative(download.out_dir)}/: {len(pngs)} images, matrix.png (the contact sheet), manifest.json")
        for path in pngs:
            say(f"    {_relative(path)}")
        say(f"    {_relative(download.matrix_path)}")
        say(f"    {_relative(download.manifest_path)}")
        if failed:
            print(f"Demo finished in {elapsed:.1f}s with {len(failed)} unfinished or failed cell(s):", file=err_stream)
            for cell in failed:
                print(f"  {cell_name(cell.angleKey, cell.colorKey)}: {cell.error or cell.status}", file=err_stream)
            return _finish(result, json_output, out_stream, 2)
        say(f"Demo finished in {elapsed:.1f}s: all {len(download.cells)} cells completed.")
        return _finish(result, json_output, out_stream, 0)
    except (DemoError, ApiError, WatchError, FileRejected) as exc:
        died = stack.process is not None and not stack.alive and not stack.stopped
        print(f"demo failed: {exc}", file=err_stream)
        if died and not isinstance(exc, DemoError):
            print(f"the local stack died; its last output:\n{stack.log_tail()}", file=err_stream)
        result["error"] = str(exc)
        return _finish(result, json_output, out_stream, 1)
    finally:
        _stop(stack, say, err_stream)
        stack.cleanup()


def _estimate(api: ApiClient, replicate: str) -> str:
    """Before anything is uploaded: what the batch costs at Replicate's price (GET /presets)."""
    images = pricing.batch_images(len(ANGLES), len(COLORS), True)
    price = (api.presets().get("pricing") or {}).get("pricePerImageUsd")
    if not isinstance(price, int | float):
        return f"Estimate: {images} images"
    cost = f"${pricing.cost_usd(images, float(price)):.2f} at ${price:g} per image"
    who = "billed by Replicate to your token" if replicate == "replicate" else "the stand-in bills nothing"
    return f"Estimate: {images} images, {cost} ({who}; images that fail are not billed)"


def _stop(stack: StackProcess, say: Callable[[str], None], err_stream: TextIO) -> None:
    if stack.process is None or stack.stopped:
        return
    if not stack.alive:  # it died on its own: the caller has shown why
        stack.stopped = True
        return
    say("Stopping the local stack…")
    code = stack.stop()
    if code not in (0, -signal.SIGINT, None):
        print(f"  the local stack exited with code {code}; last output:\n{stack.log_tail(20)}", file=err_stream)


def _finish(result: dict[str, Any], json_output: bool, stream: TextIO, code: int) -> int:
    if json_output:
        print(json.dumps({**result, "exitCode": code}, indent=2), file=stream, flush=True)
    return code


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
