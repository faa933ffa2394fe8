"""Helpers for the presets tests: sample texts, a local sheet server, a fake clock, a log recorder."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from marketplace.presets import SHEET_ANGLES, SHEET_COLORS, SHEET_GLOBAL

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "samples" / "presets"
BUCKET = "presets-test-bucket"
FILES = {SHEET_GLOBAL: "global_prompts", SHEET_ANGLES: "angle_presets", SHEET_COLORS: "color_presets"}


def sample_text(sheet: str) -> str:
    return (SAMPLES / f"{FILES[sheet]}.csv").read_text(encoding="utf-8")


def sample_texts() -> dict[str, str]:
    return {sheet: sample_text(sheet) for sheet in FILES}


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingLogger:
    """Stands in for the Powertools logger: records (level, message, extra)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    def _log(self, level: str, msg: str, *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.records.append((level, str(msg), dict(kwargs.get("extra") or {})))

    def debug(self, msg: str, *a: Any, **k: Any) -> None:
        self._log("DEBUG", msg, *a, **k)

    def info(self, msg: str, *a: Any, **k: Any) -> None:
        self._log("INFO", msg, *a, **k)

    def warning(self, msg: str, *a: Any, **k: Any) -> None:
        self._log("WARNING", msg, *a, **k)

    def error(self, msg: str, *a: Any, **k: Any) -> None:
        self._log("ERROR", msg, *a, **k)

    def exception(self, msg: str, *a: Any, **k: Any) -> None:
        self._log("ERROR", msg, *a, **k)

    def at(self, level: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [r for r in self.records if r[0] == level]


class SheetServer:
    """A tiny HTTP server for the CSVs. Per path: a body, and a queue of one-shot actions.

    Actions: ``("status", 500)`` answer that status once; ``("sleep", s)`` wait ``s`` seconds
    before answering normally; ``("drop",)`` close the connection without answering;
    ``("stream",)`` answer without Content-Length (the body ends when the connection closes).
    ``always`` holds an action applied to every request of a path until cleared.
    """

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[int, bytes, str]] = {}
        self.plan: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.always: dict[str, tuple[Any, ...]] = {}
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].lstrip("/")
                with server.lock:
                    server.counts[path] += 1
                    action = server.plan[path].pop(0) if server.plan[path] else server.always.get(path)
                if action is not None:
                    if action[0] == "drop":
                        self.close_connection = True
                        return
                    if action[0] == "sleep":
                        time.sleep(action[1])
                    if action[0] == "status":
                        self._send(action[1], b"error", "text/plain")
                        return
                status, body, ctype = server.bodies.get(path, (404, b"not found", "text/plain"))
                self._send(status, body, ctype, with_length=not (action and action[0] == "stream"))

            def _send(self, status: int, body: bytes, ctype: str, with_length: bool = True) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    if with_length:
                        self.send_header("Content-Length", str(len(body)))
                    else:  # body until the connection closes
                        self.send_header("Connection", "close")
                        self.close_connection = True
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.running = True

    def set(self, name: str, body: str | bytes, status: int = 200, content_type: str = "text/csv; charset=utf-8") -> None:
        data = body.encode("utf-8") if isinstance(body, str) else body
        with self.lock:
            self.bodies[f"{name}.csv"] = (status, data, content_type)

    def then(self, name: str, *actions: tuple[Any, ...]) -> None:
        with self.lock:
            self.plan[f"{name}.csv"].extend(actions)

    def set_always(self, name: str, action: tuple[Any, ...] | None) -> None:
        with self.lock:
            if action is None:
                self.always.pop(f"{name}.csv", None)
            else:
                self.always[f"{name}.csv"] = action

    def url(self, name: str, query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}/{name}.csv" + (f"?{query}" if query else "")

    def count(self, name: str | None = None) -> int:
        with self.lock:
            return self.counts[f"{name}.csv"] if name else sum(self.counts.values())

    def urls(self) -> dict[str, str]:
        return {sheet: self.url(name) for sheet, name in FILES.items()}

    def serve_samples(self) -> None:
        for sheet, text in sample_texts().items():
            self.set(FILES[sheet], text)

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.httpd.shutdown()
            self.httpd.server_close()


def closed_port_url(name: str = "x") -> str:
    """A URL on 127.0.0.1 where nothing listens (connection refused)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}.csv"


class CountingS3:
    """Delegates to a boto3 S3 client and counts the calls by operation name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return attr(*args, **kwargs)

        return call
