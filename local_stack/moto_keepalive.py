"""moto's HTTP server keeps its connections alive, as AWS's endpoints do.

werkzeug's development server answers every request with ``Connection: close``: it cannot tell
where a body the application left unread ends, so it reads whatever is left on the socket and
hangs up. Every AWS call of the stack's handlers (about seven a cell) and every input the
stand-in fetches paid a new TCP connection for it, and moto a new thread.

``KeepAliveHandler`` bounds the request body by its ``Content-Length``: the application reads
at most that, what it leaves unread is drained exactly (werkzeug's own drain reads through the
same bound), and the connection serves the next request. A request that asks to close, an
HTTP/1.0 one or a chunked body (no length to bound) is answered as before, then closed.
"""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from moto.moto_server.werkzeug_app import MotoRequestHandler

_DRAIN_CHUNK = 1 << 16


class RequestBody(io.RawIOBase):
    """At most ``length`` bytes of ``stream``: one request's body, never the next request."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        super().__init__()
        self._stream = stream
        self.left = length

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        # RawIOBase.read would allocate ``size`` bytes first; werkzeug's drain asks for 10 MB.
        wanted = self.left if size is None or size < 0 else min(size, self.left)
        if wanted <= 0:
            return b""
        data = self._stream.read(wanted)
        self.left = self.left - len(data) if data else 0  # no data: the client went away
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def readline(self, size: int | None = -1) -> bytes:
        wanted = self.left if size is None or size < 0 else min(size, self.left)
        if wanted <= 0:
            return b""
        line = self._stream.readline(wanted)
        self.left = self.left - len(line) if line else 0
        return line

    def drain(self) -> bool:
        """Reads what the application left; False when the client went away before sending it."""
        while self.left > 0:
            if not self.read(min(self.left, _DRAIN_CHUNK)):
                return False
        return True


def body_length(headers: Any) -> int | None:
    """The body's length, 0 without one; None when it cannot be bounded (chunked, or a bad
    ``Content-Length``)."""
    if headers.get("Transfer-Encoding"):
        return None
    value = headers.get("Content-Length")
    if value is None:
        return 0
    try:
        length = int(value)
    except ValueError:
        return None
    return length if length >= 0 else None


class KeepAliveHandler(MotoRequestHandler):
    """moto's request handler on connections that serve one request after another."""

    _keep_alive = False
    # An answer is written as headers, then body: with Nagle's algorithm the body waited for the
    # client's delayed ACK on a connection that stays open (closing it used to flush it).
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        raw, length = self.rfile, body_length(self.headers)
        self._keep_alive = length is not None and not self.close_connection
        body = RequestBody(raw, length) if length is not None else None
        if body is not None:
            self.rfile = body  # type: ignore[assignment]  # werkzeug reads the body (and drains it) through rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = raw
        if body is not None and not body.drain():
            self.close_connection = True

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return  # werkzeug closes every connection; this one is bounded and stays open
        super().send_header(keyword, value)
