"""Lambda's Invoke across processes, for moto in its own process.

moto's Step Functions run the state machine's Lambda tasks through moto's `Invoke`; the handlers
live in the stack's process (with the gateway). `RemoteLambdaDispatch` (in moto's process)
replaces moto's `invoke` with a POST of the same request to `LambdaInvokeServer` (in the stack's
process), which runs the handler as `MotoLambdaDispatch` does in one process (`run_invocation`):
the same request limit (checked on both sides), response limit, function-error document and
`x-amz-function-error` header, `Event` on a thread. The path is Lambda's own:
`POST /2015-03-31/functions/{name}/invocations` with `X-Amz-Invocation-Type`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Collection
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .lambdas import Functions, MotoLambdaDispatch, RequestTooLargeError, run_invocation
from .model import function_name_of

_PATH = re.compile(r"^/2015-03-31/functions/([^/?]+)/invocations$")
_SIZE_HEADER = "x-local-request-size"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    invoker: LambdaInvokeServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: moto's process keeps a pool of connections
    # An answer is written as headers, then payload: with Nagle's algorithm the payload waited for
    # moto's delayed ACK of the headers on a kept-alive connection, 44 ms an invoke.
    disable_nagle_algorithm = True
    server: _Server

    def do_POST(self) -> None:
        match = _PATH.match(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if match is None:
            self._answer(HTTPStatus.NOT_FOUND, b'{"message":"not a Lambda Invoke path"}')
            return
        invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
        status, headers, payload = self.server.invoker.handle(match.group(1), body, invocation_type)
        self._answer(status, payload, headers)

    def _answer(self, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LambdaInvokeServer:
    """Serves Lambda's Invoke for the template's functions on 127.0.0.1 (port 0 = a free one),
    in threads of this process."""

    def __init__(self, functions: Functions, on_error: Callable[[str, BaseException], None], port: int = 0) -> None:
        self.functions = functions
        self.on_error = on_error
        self._server = _Server(("127.0.0.1", port), _Handler, bind_and_activate=True)
        self._server.invoker = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.2,), name="lambda-invoke", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout)
        self._server.server_close()

    def handle(self, function_name: str, payload: bytes, invocation_type: str) -> tuple[int, dict[str, str], bytes]:
        spec = self.functions.model.function_by_name(function_name)
        if spec is None:
            return 404, {}, json.dumps({"message": f"Function not found: {function_name}"}).encode()
        try:
            result, function_error = run_invocation(self.functions, spec.logical_id, payload, invocation_type, self.on_error)
        except RequestTooLargeError as exc:
            return 413, {_SIZE_HEADER: str(exc.size)}, json.dumps({"message": str(exc)}).encode()
        status = 202 if invocation_type == "Event" else 204 if invocation_type == "DryRun" else 200
        return status, ({"x-amz-function-error": function_error} if function_error else {}), result


class RemoteLambdaDispatch(MotoLambdaDispatch):
    """In moto's process: Invoke of a template function (by name or ARN) goes to the stack's
    `LambdaInvokeServer`; other functions stay moto's."""

    def __init__(self, names: Collection[str], invoke_url: str, pool_size: int = 256) -> None:
        super().__init__(None, lambda _logical_id, _exc: None)  # type: ignore[arg-type]
        import urllib3

        self.names = frozenset(names)
        host, port = invoke_url.removeprefix("http://").rsplit(":", 1)
        self._pool = urllib3.HTTPConnectionPool(
            host, int(port), maxsize=pool_size, block=False, retries=False, timeout=urllib3.Timeout(connect=5.0, read=None)
        )

    def resolve(self, function_name: str) -> str | None:
        name = function_name_of(function_name)
        return name if name in self.names else None

    def call(self, logical_id: str, payload: bytes, invocation_type: str) -> tuple[bytes, str | None]:
        from moto.core.exceptions import AWSError

        response = self._pool.urlopen(
            "POST",
            f"/2015-03-31/functions/{logical_id}/invocations",
            body=payload,
            headers={"X-Amz-Invocation-Type": invocation_type, "Content-Type": "application/json"},
        )
        if response.status == 413:
            raise RequestTooLargeError(int(response.headers.get(_SIZE_HEADER, "0")))
        if response.status not in (200, 202, 204):
            raise AWSError(f"the stack's Lambda runtime answered {response.status}", "ServiceException", 500)
        return response.data, response.headers.get("x-amz-function-error")
