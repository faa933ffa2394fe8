"""The gateway answers AWS's limits as API Gateway does: 10 MB HTTP API payloads (413), Lambda's
6 MB event and result (the integration fails: 500), the 30 s integration timeout (503), and
128 KB WebSocket messages (close 1009; PostToConnection 413). The gateway is an ASGI app,
driven here directly — no sockets."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local_stack.aws_limits import (
    HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
    HTTP_API_PAYLOAD_MAX_BYTES,
    WEBSOCKET_MESSAGE_MAX_BYTES,
)
from local_stack.connections import Connection
from local_stack.events import WsConnectionInfo
from local_stack.gateway import Gateway
from local_stack.lambdas import Functions
from local_stack.model import FunctionSpec, HttpRoute, StackModel, WebSocketApiSpec
from tests.support.function_specs import function_spec

pytestmark = pytest.mark.unit

BATCH = "/api/car/marketplace/batch"
MB = 1024 * 1024

HANDLER = """
import time

CALLS = []


def handler(event, context):
    CALLS.append(event.get("rawPath") or event["requestContext"]["routeKey"])
    how = (event.get("queryStringParameters") or {}).get("how")
    if how == "sleep":
        time.sleep(float(event["queryStringParameters"]["seconds"]))
    if how == "raise-timeout":
        raise TimeoutError("the handler's own socket timed out")
    if how == "huge":
        return {"statusCode": 200, "body": "x" * int(event["queryStringParameters"]["bytes"])}
    return {"statusCode": 200, "body": "ran"}
"""


def function(tmp_path: Path, timeout_s: int = 10) -> FunctionSpec:
    return function_spec(tmp_path, HANDLER, timeout_s=timeout_s)


def gateway(tmp_path: Path, *, timeout_s: int = 10, **options: Any) -> Gateway:
    spec = function(tmp_path, timeout_s)
    model = StackModel(
        template=None,  # type: ignore[arg-type]  # the gateway reads only what is below
        root=tmp_path,
        functions={"Fn": spec},
        http_apis={},
        http_routes=[HttpRoute(api_id="api", method="ANY", path="/{proxy+}", function="Fn", authorizer=None)],
        websocket=WebSocketApiSpec(
            logical_id="Ws",
            api_id="wsapi",
            stage="test",
            route_selection_expression="$request.body.action",
            routes={"$default": "Fn"},
        ),
        schedules=[],
    )
    return Gateway(model, Functions(model), local_origins=[], web_dir=None, presets_dir=None, **options)


def calls(app: Gateway) -> list[str]:
    """What the handler saw (its module's CALLS)."""
    return app.functions.handler("Fn").__globals__["CALLS"]


# -- driving the ASGI app -----------------------------------------------------------------------


async def http(
    app: Gateway,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    query: str = "",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunk: int = MB,
    receive: Callable[[], Any] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive_chunks() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": headers or [(b"content-type", b"application/json")],
        "http_version": "1.1",
        "client": ("127.0.0.1", 5000),
    }
    await app(scope, receive or receive_chunks, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, answer


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


# -- HTTP API payload: 10 MB ---------------------------------------------------------------------


def test_given_a_streamed_body_over_10_mb_when_posted_then_413_request_entity_too_large_before_the_handler(
    tmp_path: Path,
) -> None:
    app = gateway(tmp_path)
    status, headers, body = run(http(app, "POST", BATCH, b"x" * (HTTP_API_PAYLOAD_MAX_BYTES + 1)))
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})
    assert headers["content-type"] == "application/json"
    assert calls(app) == []


def test_given_a_content_length_over_10_mb_when_posted_then_413_without_reading_the_body(tmp_path: Path) -> None:
    app = gateway(tmp_path)

    async def never() -> dict[str, Any]:
        raise AssertionError("the body was read")

    too_long = [(b"content-length", str(HTTP_API_PAYLOAD_MAX_BYTES + 1).encode())]
    status, _, body = run(http(app, "POST", BATCH, headers=too_long, receive=never))
    assert (status, json.loads(body)) == (413, {"message": "Request Entity Too Large"})


# -- Lambda's 6 MB request and response, seen through the HTTP API --------------------------------


def test_given_a_10_mb_json_body_when_posted_then_lambda_refuses_the_event_and_413_before_the_handler(
    tmp_path: Path,
) -> None:
    app = gateway(tmp_path)
    ten_mb = b'{"pad":"' + b"x" * (HTTP_API_PAYLOAD_MAX_BYTES - 10) + b'"}'
    assert len(ten_mb) == HTTP_API_PAYLOAD_MAX_BYTES  # within API Gateway's limit, over Lambda's
    status, headers, body = run(http(app, "POST", BATCH, ten_mb))
    assert (status, json.loads(body)) == (413, {"message": "Request Too Long"})
    assert headers["apigw-requestid"]
    assert calls(app) == []


def test_given_a_body_whose_event_is_over_6_mb_when_posted_then_413_and_under_it_the_handler_runs(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    status, _, _ = run(http(app, "POST", BATCH, b"x" * (6 * MB)))  # plus the event's envelope
    assert status == 413 and calls(app) == []
    status, _, body = run(http(app, "POST", BATCH, b"x" * (5 * MB)))
    assert (status, body) == (200, b"ran") and calls(app) == [BATCH]


def test_given_a_handler_result_over_6_mb_when_requested_then_500_internal_server_error(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    status, _, body = run(http(app, "GET", "/big", query=f"how=huge&bytes={6 * MB + 200}"))
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})
    assert calls(app) == ["/big"]  # it ran: the result is what Lambda refused
    status, _, body = run(http(app, "GET", "/big", query=f"how=huge&bytes={5 * MB}"))
    assert status == 200 and len(body) == 5 * MB


# -- integration timeout: 30 s -----------------------------------------------------------------


def test_given_the_default_gateway_then_its_integration_timeout_is_http_apis_30_seconds(tmp_path: Path) -> None:
    assert HTTP_API_INTEGRATION_TIMEOUT_SECONDS == 30
    assert gateway(tmp_path).integration_timeout_s == HTTP_API_INTEGRATION_TIMEOUT_SECONDS


def test_given_a_handler_still_running_at_the_integration_timeout_then_503_service_unavailable(tmp_path: Path) -> None:
    app = gateway(tmp_path, timeout_s=10, integration_timeout_s=0.2)
    started = time.perf_counter()
    status, headers, body = run(http(app, "GET", "/slow", query="how=sleep&seconds=1"))
    assert (status, json.loads(body)) == (503, {"message": "Service Unavailable"})
    assert headers["apigw-requestid"]
    assert 0.2 <= time.perf_counter() - started < 0.9  # answered at the timeout, not when the handler ends


def test_given_a_function_timeout_shorter_than_the_integration_timeout_when_it_overruns_then_500(tmp_path: Path) -> None:
    app = gateway(tmp_path, timeout_s=1, integration_timeout_s=5)
    started = time.perf_counter()
    status, _, body = run(http(app, "GET", "/slow", query="how=sleep&seconds=1.5"))
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})  # Lambda's "Task timed out"
    assert 1 <= time.perf_counter() - started < 1.4


def test_given_a_handler_that_raises_timeout_error_itself_then_500_not_a_gateway_timeout(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    status, _, body = run(http(app, "GET", "/x", query="how=raise-timeout"))
    assert (status, json.loads(body)) == (500, {"message": "Internal Server Error"})


# -- WebSocket: 128 KB messages -----------------------------------------------------------------


async def websocket_session(app: Gateway, *messages: str) -> list[dict[str, Any]]:
    """Connect, send `messages`, wait for the handler, disconnect; what the gateway sent."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for message in ({"type": "websocket.connect"}, *({"type": "websocket.receive", "text": m} for m in messages)):
        inbox.put_nowait(message)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "websocket.close":  # the client sees the close frame and goes
            inbox.put_nowait({"type": "websocket.disconnect", "code": message["code"]})

    async def hang_up_later() -> None:
        await asyncio.sleep(0.3)
        inbox.put_nowait({"type": "websocket.disconnect", "code": 1000})

    closer = asyncio.create_task(hang_up_later())
    scope = {"type": "websocket", "path": "/ws", "headers": [], "query_string": b"", "client": ("127.0.0.1", 5000)}
    await app(scope, inbox.get, send)
    closer.cancel()
    return sent


def test_given_a_client_message_over_128_kb_when_sent_then_the_connection_closes_with_1009(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    sent = run(websocket_session(app, "é" * (WEBSOCKET_MESSAGE_MAX_BYTES // 2) + "x"))  # 128 KiB + 1 in UTF-8
    assert {"type": "websocket.close", "code": 1009, "reason": "Message too big"} in sent
    assert calls(app) == []


def test_given_a_client_message_of_exactly_128_kb_when_sent_then_the_route_gets_it(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    sent = run(websocket_session(app, "x" * WEBSOCKET_MESSAGE_MAX_BYTES))
    assert not [m for m in sent if m["type"] == "websocket.close"]
    assert calls(app) == ["$default"]


def open_connection(app: Gateway, received: list[dict[str, Any]]) -> str:
    async def send(message: dict[str, Any]) -> None:
        received.append(message)

    info = WsConnectionInfo(
        connection_id="Yr3bTe7JoAMCJ9g=",
        api_id="wsapi",
        stage="test",
        domain_name="localhost",
        source_ip="127.0.0.1",
        user_agent="test",
        connected_at_ms=0,
    )
    unused = asyncio.new_event_loop()  # only threads posting to the connection use its loop
    unused.close()
    app.connections.add(Connection(info=info, send=send, loop=unused))
    return info.connection_id


def test_given_a_post_to_connection_over_128_kb_then_413_payload_too_large_exception(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    received: list[dict[str, Any]] = []
    connection_id = open_connection(app, received)
    over = b"x" * (WEBSOCKET_MESSAGE_MAX_BYTES + 1)
    status, headers, body = run(http(app, "POST", f"/test/@connections/{connection_id}", over))  # under a stage prefix
    assert status == 413 and headers["x-amzn-errortype"] == "PayloadTooLargeException"
    assert json.loads(body) == {"message": "Message too long"}
    assert received == []


def test_given_a_post_to_connection_of_exactly_128_kb_then_it_is_delivered(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    received: list[dict[str, Any]] = []
    connection_id = open_connection(app, received)
    status, _, _ = run(http(app, "POST", f"/@connections/{connection_id}", b"x" * WEBSOCKET_MESSAGE_MAX_BYTES))
    assert status == 200
    assert received == [{"type": "websocket.send", "text": "x" * WEBSOCKET_MESSAGE_MAX_BYTES}]


def test_given_a_post_to_connection_over_10_mb_then_still_413_payload_too_large(tmp_path: Path) -> None:
    app = gateway(tmp_path)
    connection_id = open_connection(app, [])
    status, headers, _ = run(http(app, "POST", f"/@connections/{connection_id}", b"x" * (HTTP_API_PAYLOAD_MAX_BYTES + 1)))
    assert status == 413 and headers["x-amzn-errortype"] == "PayloadTooLargeException"
