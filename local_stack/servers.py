"""Servers in background threads of this process: uvicorn (gateway, stand-in) and moto."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from typing import Any, Literal

import uvicorn


def bind(port: int, host: str = "127.0.0.1") -> socket.socket:
    """A listening socket (port 0 = a free port), bound before anything needs its number."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class UvicornThread:
    """A uvicorn server on a pre-bound socket, in its own thread and event loop."""

    def __init__(self, app: Any, sock: socket.socket, name: str, lifespan: Literal["auto", "on", "off"] = "on") -> None:
        self.sock = sock
        self.name = name
        config = uvicorn.Config(
            app,
            lifespan=lifespan,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            timeout_keep_alive=30,
            ws_max_size=16 * 1024 * 1024,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.error: BaseException | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def _run(self) -> None:
        try:
            self.server.run(sockets=[self.sock])
        except BaseException as exc:
            self.error = exc

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if self.error is not None or not self.thread.is_alive():
                raise RuntimeError(f"{self.name} failed to start") from self.error
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} did not start within {timeout}s")
            time.sleep(0.005)

    def stop(self, timeout: float = 2.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.server.force_exit = True
            self.thread.join(timeout)
        with contextlib.suppress(OSError):
            self.sock.close()


class MotoThread:
    """moto's ThreadedMotoServer, whose socket is also closed on stop."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self.host, self.requested_port = host, port
        self.server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)

    def start(self, timeout: float = 10.0) -> None:
        # ThreadedMotoServer.start() waits forever if its thread cannot bind: check first.
        if self.requested_port:
            bind(self.requested_port, self.host).close()
        thread = threading.Thread(target=self.server._server_entry, name="moto", daemon=True)
        self.server._thread = thread
        thread.start()
        if not self.server._server_ready_event.wait(timeout):
            raise TimeoutError(f"moto did not start on {self.host}:{self.requested_port}")

    @property
    def port(self) -> int:
        return int(self.server.get_host_and_port()[1])

    def stop(self, timeout: float = 2.0) -> None:
        wsgi = self.server._server
        if wsgi is None:
            return
        stopper = threading.Thread(target=wsgi.shutdown, daemon=True)
        stopper.start()
        stopper.join(timeout)
        thread = self.server._thread
        if thread is not None:
            thread.join(timeout)
        wsgi.server_close()
