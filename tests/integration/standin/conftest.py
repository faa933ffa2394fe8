"""Real sockets: the stand-in under uvicorn in a thread, and a webhook receiver + image host."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import replicate
import uvicorn

from replicate_standin import StandinSettings, StandinStore, create_app


@dataclass
class Received:
    headers: dict[str, str]
    body: str

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``POST /hook`` records a webhook and answers the next of ``statuses`` (200 when empty);
    ``GET /images/{name}`` serves ``images[name]``."""

    url: str
    hooks: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hook"

    def image_url(self, name: str, data: bytes) -> str:
        self.images[name] = data
        return f"{self.url}/images/{name}"


@contextmanager
def _receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0"))).decode("utf-8")
            with state.lock:
                state.hooks.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                status = state.statuses.pop(0) if state.statuses else 200
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            data = state.images.get(self.path.removeprefix("/images/"))
            self.send_response(200 if data is not None else 404)
            self.send_header("content-type", "image/jpeg")
            self.send_header("content-length", str(len(data or b"")))
            self.end_headers()
            self.wfile.write(data or b"")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class LiveStandin:
    url: str
    store: StandinStore
    settings: StandinSettings

    def client(self, token: str = "r8_test") -> replicate.Client:
        return replicate.Client(api_token=token, base_url=self.url)


@contextmanager
def serve_standin(**overrides: Any) -> Iterator[LiveStandin]:
    """The stand-in on a free 127.0.0.1 port (the socket is bound first, so no race)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    values: dict[str, Any] = {
        "port": port,
        "latency_seconds": 0.1,
        "webhook_retry_initial_seconds": 0.05,
        "webhook_retry_seconds": 2.0,
    }
    values.update(overrides)
    settings = StandinSettings(**values)
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the stand-in did not start")
        time.sleep(0.01)
    try:
        yield LiveStandin(url=f"http://127.0.0.1:{port}", store=app.state.standin, settings=settings)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with _receiver() as state:
        yield state


@pytest.fixture
def live() -> Callable[..., AbstractContextManager[LiveStandin]]:
    """``with live(**settings) as standin:`` (several per test allowed)."""
    return serve_standin
