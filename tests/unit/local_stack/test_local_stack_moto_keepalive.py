"""moto's server keeps connections alive (``local_stack.moto_keepalive``): one connection serves
request after request, whatever of its body the application read; what cannot be bounded closes."""

from __future__ import annotations

import http.client
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from local_stack.moto_keepalive import KeepAliveHandler, RequestBody, body_length

pytestmark = pytest.mark.unit


def _app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """Echoes the client's port (one per connection), whether the server's side of the connection
    sends without delay (TCP_NODELAY) and, unless told not to, the body."""
    import socket

    from werkzeug.wsgi import get_input_stream

    body = b"" if environ.get("HTTP_X_SKIP_BODY") else get_input_stream(environ).read()
    no_delay = environ["werkzeug.socket"].getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-No-Delay", str(bool(no_delay)))])
    return [f"{environ['REMOTE_PORT']}|".encode(), body]  # no length: a chunked answer


@contextmanager
def _server(handler: type) -> Iterator[int]:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, _app, threaded=True, request_handler=handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.port
    finally:
        server.shutdown()
        server.server_close()


def _ask(connection: http.client.HTTPConnection, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[str, bytes, str | None, str | None]:
    connection.request("POST" if body is not None else "GET", "/", body=body, headers=headers or {})
    response = connection.getresponse()
    port, _, echoed = response.read().partition(b"|")
    return port.decode(), echoed, response.getheader("Connection"), response.getheader("X-No-Delay")


def test_given_keep_alive_when_requests_follow_on_one_connection_then_one_connection_serves_them_all() -> None:
    with _server(KeepAliveHandler) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        answers = [
            _ask(connection),
            _ask(connection, b"x" * 300_000, {"X-Skip-Body": "1"}),  # left unread: drained, not taken as a request
            _ask(connection, b"GET / HTTP/1.1\r\n\r\n", {"X-Skip-Body": "1"}),
            _ask(connection, b"second body"),
            _ask(connection),
        ]
        connection.close()
    assert len({client_port for client_port, *_ in answers}) == 1
    assert [echoed for _, echoed, *_ in answers] == [b"", b"", b"", b"second body", b""]
    assert {closing for _, _, closing, _ in answers} == {None}
    # An answer's body must not wait for the client's delayed ACK of its headers (Nagle's
    # algorithm): 10-40 ms a request once connections stay open.
    assert {no_delay for *_, no_delay in answers} == {"True"}


def test_given_werkzeugs_own_handler_then_every_request_pays_a_connection() -> None:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    with _server(MotoRequestHandler) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        answers = [_ask(connection), _ask(connection, b"body")]
        connection.close()
    assert answers[0][0] != answers[1][0]  # what the keep-alive handler removes
    assert answers[0][2] == "close"


@pytest.mark.parametrize("headers", [{"Connection": "close"}, {"Transfer-Encoding": "chunked"}],
                         ids=["client asks to close", "chunked body"])
def test_given_a_request_that_cannot_stay_open_when_answered_then_the_connection_closes(headers: dict[str, str]) -> None:
    with _server(KeepAliveHandler) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        body = iter([b"chunk one", b"chunk two"]) if "Transfer-Encoding" in headers else b"body"
        connection.request("POST", "/", body=body, headers=headers, encode_chunked="Transfer-Encoding" in headers)
        response = connection.getresponse()
        echoed = response.read().partition(b"|")[2]
        connection.close()
    assert echoed == b"chunk onechunk two" if "Transfer-Encoding" in headers else echoed == b"body"
    assert response.getheader("Connection") == "close"


def test_given_a_bounded_body_when_read_every_way_then_it_never_reads_past_its_length() -> None:
    stream = io.BufferedReader(io.BytesIO(b"line one\nline two\nNEXT REQUEST"))  # type: ignore[arg-type]
    body = RequestBody(stream, 18)
    assert body.readline() == b"line one\n"
    assert body.readline(4) == b"line"
    assert body.read() == b" two\n"
    assert body.read(10) == b"" and body.readline() == b""
    assert stream.read() == b"NEXT REQUEST"

    unread = RequestBody(io.BufferedReader(io.BytesIO(b"abcdefNEXT")), 6)  # type: ignore[arg-type]
    assert unread.drain() and unread.left == 0
    gone = RequestBody(io.BufferedReader(io.BytesIO(b"abc")), 6)  # type: ignore[arg-type]
    assert not gone.drain()  # the client went away mid-body: the connection must close


@pytest.mark.parametrize(("headers", "length"), [
    ({}, 0), ({"Content-Length": "12"}, 12), ({"Content-Length": "0"}, 0), ({"Content-Length": "-1"}, None),
    ({"Content-Length": "twelve"}, None), ({"Transfer-Encoding": "chunked", "Content-Length": "5"}, None),
])
def test_given_request_headers_then_the_body_is_bounded_only_by_a_valid_length(headers: dict[str, str],
                                                                              length: int | None) -> None:
    assert body_length(headers) == length
