"""The local API Gateway: one ASGI app serving the template's HTTP API routes (payload v2.0),
its WebSocket API at `/ws`, the `@connections` management API, and the page and sample CSVs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import re
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import anyio
import anyio.to_thread

from .aws_limits import (
    HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS,
    http_api_payload_too_large,
    websocket_message_too_large,
)
from .connections import Connection, ConnectionRegistry, gone, too_large
from .cors import Cors
from .events import (
    BadLambdaResponseError,
    HttpRequest,
    WsConnectionInfo,
    build_http_event,
    build_ws_connect_event,
    build_ws_disconnect_event,
    build_ws_message_event,
    jwt_authorizer_context,
    map_http_response,
    request_id,
    select_ws_route,
)
from .lambdas import Functions, RequestTooLargeError, ResponseTooLargeError
from .model import HttpRoute, StackModel
from .routes import RouteTable

DEV_USER_HEADER = "x-dev-user"
DEFAULT_DEV_USER = "dev-user"

_MANAGEMENT = re.compile(r"^(?:/[^/@]+)?/@connections/([^/]+)/?$")
_PRESET = re.compile(r"^/_local/presets/([A-Za-z0-9_.-]+\.csv)$")

Log = Callable[[str], None]


def _json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> tuple[int, list, bytes]:
    return status, [("content-type", "application/json"), *(headers or [])], json.dumps(payload).encode()


class _TooLargeError(Exception):
    pass


class _ClientGoneError(Exception):
    pass


class IntegrationTimeoutError(Exception):
    """API Gateway stopped waiting for the integration (HTTP API answers 503)."""


class FunctionTimeoutError(Exception):
    """The function's own Timeout came first: Lambda answers a "Task timed out" function error."""


class Gateway:
    def __init__(
        self,
        model: StackModel,
        functions: Functions,
        *,
        local_origins: list[str],
        web_dir: Path | None,
        presets_dir: Path | None,
        log: Log | None = None,
        max_threads: int = 256,
        integration_timeout_s: float = HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    ) -> None:
        self.model = model
        self.functions = functions
        self.routes = RouteTable(model.http_routes)
        self.cors = Cors.from_configs([api.cors for api in model.http_apis.values()], local_origins, [DEV_USER_HEADER])
        self.connections = ConnectionRegistry()
        self.web_dir = web_dir.resolve() if web_dir else None
        self.presets_dir = presets_dir.resolve() if presets_dir else None
        self.log = log
        self.accepting = True
        self.max_threads = max_threads
        self.integration_timeout_s = integration_timeout_s  # tests shorten it rather than wait 30 s
        self._limiter: anyio.CapacityLimiter | None = None
        self._seen: OrderedDict[tuple, None] = OrderedDict()
        self.loop: asyncio.AbstractEventLoop | None = None

    # -- ASGI entry --------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    def _emit(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    async def _invoke(self, logical_id: str, event: Any, integration_timeout_s: float) -> Any:
        """Run the handler in a worker thread; the JSON-decoded result. Whichever deadline comes
        first wins: the function's Timeout raises FunctionTimeoutError, the integration's
        IntegrationTimeoutError (the thread is abandoned, as API Gateway stops waiting). Raises
        whatever the handler raised, and Lambda's payload-limit errors."""
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.max_threads)
        function_timeout_s = self.functions.spec(logical_id).timeout_s
        with anyio.move_on_after(min(function_timeout_s, integration_timeout_s)):
            raw = await anyio.to_thread.run_sync(
                self.functions.invoke_raw, logical_id, event, limiter=self._limiter, abandon_on_cancel=True
            )
            return json.loads(raw)
        if function_timeout_s < integration_timeout_s:
            raise FunctionTimeoutError(f"{logical_id}: Task timed out after {function_timeout_s:.2f} seconds")
        raise IntegrationTimeoutError(f"{logical_id}: no answer within {integration_timeout_s:g}s")

    # -- HTTP ------------------------------------------------------------------------------

    async def _http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        started = time.perf_counter()
        method = scope["method"].upper()
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        lower = {k.lower(): v for k, v in headers}

        management = _MANAGEMENT.match(raw_path)
        if management:
            status, out_headers, body = await self._management(method, unquote(management.group(1)), receive)
            await _respond(send, status, out_headers, body)
            return
        try:
            body = await _read_body(receive, lower)
        except _TooLargeError:
            status, out_headers, body = _json(413, {"message": "Request Entity Too Large"})
        except _ClientGoneError:
            return
        else:
            status, out_headers, body = await self._handle(method, raw_path, raw_query, headers, lower, body, scope)
        await _respond(send, status, out_headers, b"" if method == "HEAD" else body)
        self._emit(f"{method} {raw_path} {status} {(time.perf_counter() - started) * 1000:.0f}ms")

    async def _handle(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: list[tuple[str, str]],
        lower: dict[str, str],
        body: bytes,
        scope: dict[str, Any],
    ) -> tuple[int, list, bytes]:
        origin = lower.get("origin", "")
        if method == "OPTIONS" and self.cors and origin and "access-control-request-method" in lower:
            allowed = self.cors.preflight(
                origin, lower["access-control-request-method"], lower.get("access-control-request-headers", "")
            )
            return 204, allowed, b""
        match = self.routes.match(method, raw_path)
        if match is None:
            static = self._static(method, raw_path)
            if static is not None:
                return static
            return _json(404, {"message": "Not Found"})
        route, params = match
        client = scope.get("client") or ("127.0.0.1", 0)
        request = HttpRequest(
            method=method,
            raw_path=raw_path,
            raw_query=raw_query,
            headers=headers,
            body=body,
            source_ip=client[0],
            protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        )
        event = build_http_event(request, route, params, authorizer=self._authorizer(route, lower))
        cors_headers = self.cors.response_headers(origin) if self.cors else []
        request_id_header = [("apigw-requestid", event["requestContext"]["requestId"])]
        internal_error = _json(500, {"message": "Internal Server Error"}, cors_headers + request_id_header)
        try:
            result = await self._invoke(route.function, event, self.integration_timeout_s)
            response = map_http_response(result)
        except IntegrationTimeoutError as exc:
            self._emit(f"{exc} ({route.route_key})")
            return _json(503, {"message": "Service Unavailable"}, cors_headers + request_id_header)
        except RequestTooLargeError as exc:
            # Lambda refused the event (over 6 MB): API Gateway answers 413, as REST APIs document
            # it ("Request Too Long"); nothing of ours ran.
            self._emit(f"{route.function} refused the event ({route.route_key}): {exc}")
            return _json(413, {"message": "Request Too Long"}, cors_headers + request_id_header)
        except (FunctionTimeoutError, ResponseTooLargeError) as exc:
            # The integration failed (a function error, or a result Lambda refused):
            # HTTP APIs answer their generic 500, the reason is only in the access log.
            self._emit(f"{route.function} failed ({route.route_key}): {type(exc).__name__}: {exc}")
            return internal_error
        except BadLambdaResponseError as exc:
            self._emit(f"{route.function} returned a response API Gateway cannot map: {exc}")
            return internal_error
        except Exception:
            traceback.print_exc()
            return internal_error
        names = {name for name, _ in response.headers}
        extra = [(k, v) for k, v in cors_headers + request_id_header if k not in names]
        return response.status, response.headers + extra, response.body

    def _authorizer(self, route: HttpRoute, lower: dict[str, str]) -> dict[str, Any] | None:
        if route.authorizer is None:
            return None
        for api in self.model.http_apis.values():
            if api.api_id == route.api_id:
                config = api.authorizers.get(route.authorizer) or {}
                if "JwtConfiguration" in config:
                    user = lower.get(DEV_USER_HEADER) or DEFAULT_DEV_USER
                    return jwt_authorizer_context(user, config["JwtConfiguration"])
        return None

    def _static(self, method: str, raw_path: str) -> tuple[int, list, bytes] | None:
        if method not in ("GET", "HEAD"):
            return None
        path = unquote(raw_path)
        file: Path | None = None
        preset = _PRESET.match(path)
        if preset and self.presets_dir is not None:
            file = self.presets_dir / preset.group(1)
        elif self.web_dir is not None and self.web_dir.is_dir():
            relative = path.lstrip("/")
            if relative == "" or relative.endswith("/"):
                relative += "index.html"
            candidate = (self.web_dir / relative).resolve()
            if candidate.is_relative_to(self.web_dir):
                file = candidate
        if file is None or not file.is_file():
            return None
        content_type = _content_type(file)
        return 200, [("content-type", content_type), ("cache-control", "no-cache")], file.read_bytes()

    # -- @connections ----------------------------------------------------------------------

    async def _management(self, method: str, connection_id: str, receive: Any) -> tuple[int, Any, bytes]:
        try:
            body = await _read_body(receive, {})
            oversized = websocket_message_too_large(len(body))
        except (_TooLargeError, _ClientGoneError):
            body, oversized = b"", True
        connection = self.connections.get(connection_id)
        if method == "POST":
            if oversized:
                return _tuple(too_large())
            if connection is None:
                return _tuple(gone(connection_id))
            try:
                await connection.send_data(body)
            except Exception:
                return _tuple(gone(connection_id))
            self._watch(body)
            return 200, [("content-type", "application/json")], b""
        if connection is None:
            return _tuple(gone(connection_id))
        if method == "GET":
            return _json(200, connection.describe())
        if method == "DELETE":
            try:
                await connection.close(1000, "")
            except Exception:
                return _tuple(gone(connection_id))
            return 204, [], b""
        return _json(405, {"message": "Method Not Allowed"})

    def _watch(self, body: bytes) -> None:
        """One line per cell change pushed to browsers (deduplicated across connections)."""
        if self.log is None:
            return
        try:
            message = json.loads(body)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind, data = message.get("type"), message.get("data") or {}
        if not isinstance(data, dict):
            return
        if kind == "marketplaceJobUpdated":
            result = data.get("result") or {}
            key: tuple = (kind, data.get("batchId"), result.get("angleKey"), result.get("colorKey"))
            key += (result.get("status"),)
            error = f" ({result['error']})" if result.get("error") else ""
            line = (
                f"cell  batch={data.get('batchId')} angle={result.get('angleKey')} "
                f"colour={result.get('colorKey') or '-'} status={result.get('status')}{error}"
            )
        elif kind in ("marketplaceBatchCreated", "marketplaceBatchCompleted"):
            key = (kind, data.get("batchId"))
            line = f"batch {kind.removeprefix('marketplaceBatch').lower()} batch={data.get('batchId')}"
            if data.get("totalJobs") is not None:
                line += f" jobs={data['totalJobs']}"
        else:
            return
        if key in self._seen:
            return
        self._seen[key] = None
        if len(self._seen) > 10_000:
            self._seen.popitem(last=False)
        self._emit(line)

    # -- WebSocket --------------------------------------------------------------------------

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        ws = self.model.websocket
        if ws is None or not self.accepting or scope["path"].rstrip("/") != "/ws":
            await send({"type": "websocket.close", "code": 1008})
            return
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        lower = {k.lower(): v for k, v in headers}
        client = scope.get("client") or ("127.0.0.1", 0)
        info = WsConnectionInfo(
            connection_id=request_id(),
            api_id=ws.api_id,
            stage=ws.stage,
            domain_name=lower.get("host", "localhost"),
            source_ip=client[0],
            user_agent=lower.get("user-agent", ""),
            connected_at_ms=int(time.time() * 1000),
            headers=headers,
            raw_query=scope.get("query_string", b"").decode("latin-1"),
        )
        if "$connect" in ws.routes and not await self._ws_connect(ws.routes["$connect"], info):
            await send({"type": "websocket.close", "code": 1008})
            self._emit(f"WS connect {info.connection_id} rejected (403)")
            return
        await send({"type": "websocket.accept"})
        connection = Connection(info=info, send=send, loop=asyncio.get_running_loop())
        self.connections.add(connection)
        self._emit(f"WS connect {info.connection_id}")
        code, reason = 1005, ""
        try:
            async with anyio.create_task_group() as tasks:
                while True:
                    message = await receive()
                    if message["type"] == "websocket.disconnect":
                        code, reason = int(message.get("code") or 1005), str(message.get("reason") or "")
                        break
                    if message["type"] != "websocket.receive":
                        continue
                    data: str | bytes | None = message.get("text")
                    if data is None:
                        data = message.get("bytes") or b""
                    size = len(data.encode()) if isinstance(data, str) else len(data)
                    connection.last_active_ms = int(time.time() * 1000)
                    if websocket_message_too_large(size):  # AWS closes the connection
                        await connection.close(1009, "Message too big")
                        continue
                    route = select_ws_route(ws.route_selection_expression, data, ws.routes)
                    if route is None:
                        forbidden = {
                            "message": "Forbidden",
                            "connectionId": info.connection_id,
                            "requestId": request_id(),
                        }
                        await connection.send_data(json.dumps(forbidden).encode())
                        continue
                    tasks.start_soon(self._ws_message, ws.routes[route], route, info, data)
        finally:
            self.connections.remove(info.connection_id)
            self._emit(f"WS disconnect {info.connection_id} ({code})")
            if "$disconnect" in ws.routes and self.accepting:
                side = "Server" if connection.closing else "Client"
                why = f"{side}-side close frame status code {code} and reason: {reason}"
                event = build_ws_disconnect_event(info, code, why)
                try:
                    with anyio.CancelScope(shield=True):
                        await self._invoke(ws.routes["$disconnect"], event, WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS)
                except Exception:
                    traceback.print_exc()

    async def _ws_connect(self, function: str, info: WsConnectionInfo) -> bool:
        try:
            result = await self._invoke(function, build_ws_connect_event(info), WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS)
        except Exception:
            traceback.print_exc()
            return False
        if isinstance(result, dict) and "statusCode" in result:
            try:
                return 200 <= int(result["statusCode"]) < 300
            except (TypeError, ValueError):
                return False
        return True

    async def _ws_message(self, function: str, route: str, info: WsConnectionInfo, data: str | bytes) -> None:
        try:
            await self._invoke(function, build_ws_message_event(info, route, data), WEBSOCKET_INTEGRATION_TIMEOUT_SECONDS)
        except Exception:
            traceback.print_exc()

    async def close_all(self, code: int = 1001, reason: str = "Going away") -> None:
        for connection in self.connections.all():
            with contextlib.suppress(Exception):
                await connection.close(code, reason)


def _tuple(triple: tuple[int, dict[str, str], bytes]) -> tuple[int, list, bytes]:
    status, headers, body = triple
    return status, list(headers.items()), body


def _content_type(file: Path) -> str:
    suffix = file.suffix.lower()
    if suffix in (".js", ".mjs"):
        return "text/javascript; charset=utf-8"
    if suffix == ".csv":
        return "text/csv; charset=utf-8"
    guessed = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml"):
        guessed += "; charset=utf-8"
    return guessed


async def _read_body(receive: Any, lower: dict[str, str]) -> bytes:
    length = lower.get("content-length")
    if length and length.isdigit() and http_api_payload_too_large(int(length)):
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGoneError
        chunk = message.get("body", b"")
        size += len(chunk)
        if http_api_payload_too_large(size):
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _respond(send: Any, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    encoded = []
    for name, value in headers:
        if name.lower() == "content-length":
            continue
        try:
            encoded.append((name.encode("latin-1"), value.encode("latin-1")))
        except UnicodeEncodeError:
            encoded.append((name.encode("latin-1"), value.encode("utf-8")))
    encoded.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": encoded})
    await send({"type": "http.response.body", "body": body})
