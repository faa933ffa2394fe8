"""The events the gateway builds are what Powertools' own models and resolvers accept, and
Lambda responses map back to HTTP as API Gateway does."""

from __future__ import annotations

import base64
import json

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    EventBridgeModel,
)

from local_stack.events import (
    BadLambdaResponseError,
    HttpRequest,
    WsConnectionInfo,
    build_http_event,
    build_scheduled_event,
    build_ws_connect_event,
    build_ws_disconnect_event,
    build_ws_message_event,
    jwt_authorizer_context,
    map_http_response,
    request_id,
    select_ws_route,
)
from local_stack.model import HttpRoute

pytestmark = pytest.mark.unit

ROUTE = HttpRoute(api_id="abc123defg", method="POST", path="/api/batch/{batchId}", function="Fn", authorizer="Jwt")


def request(**overrides) -> HttpRequest:
    values = {
        "method": "POST",
        "raw_path": "/api/batch/b-1",
        "raw_query": "a=1&a=2&b=x%20y&empty=",
        "headers": [
            ("Host", "127.0.0.1:3000"),
            ("Content-Type", "application/json"),
            ("X-Multi", "one"),
            ("x-multi", "two"),
            ("Cookie", "s=1; t=2"),
            ("User-Agent", "pytest"),
        ],
        "body": b'{"hello": "world"}',
        "source_ip": "127.0.0.1",
    }
    values.update(overrides)
    return HttpRequest(**values)


def test_http_event_is_a_valid_payload_v2() -> None:
    event = build_http_event(request(), ROUTE, {"batchId": "b-1"}, authorizer=jwt_authorizer_context("ann", {}))
    model = APIGatewayProxyEventV2Model(**event)
    assert model.version == "2.0"
    assert model.routeKey == "POST /api/batch/{batchId}" == model.requestContext.routeKey
    assert model.pathParameters == {"batchId": "b-1"}
    assert model.queryStringParameters == {"a": "1,2", "b": "x y", "empty": ""}
    assert model.rawQueryString == "a=1&a=2&b=x%20y&empty="
    assert model.headers["x-multi"] == "one,two"
    assert "cookie" not in model.headers
    assert model.cookies == ["s=1", "t=2"]
    assert model.body == '{"hello": "world"}' and model.isBase64Encoded is False
    assert model.requestContext.stage == "$default"
    assert model.requestContext.http.method == "POST"
    assert model.requestContext.http.userAgent == "pytest"
    assert model.requestContext.domainName == "127.0.0.1:3000"
    assert model.requestContext.authorizer.jwt.claims["sub"] == "ann"
    assert model.requestContext.accountId == "123456789012"


def test_http_event_through_powertools_data_class_and_resolver() -> None:
    event = build_http_event(request(), ROUTE, {"batchId": "b-1"})
    data = APIGatewayProxyEventV2(event)
    assert data.headers.get("X-Multi") == "one,two"
    assert data.json_body == {"hello": "world"}
    assert data.path_parameters == {"batchId": "b-1"}

    app = APIGatewayHttpResolver()

    @app.post("/api/batch/<batch_id>")
    def post_batch(batch_id: str):
        return {"batchId": batch_id, "body": app.current_event.json_body}

    result = app.resolve(event, None)
    assert result["statusCode"] == 200
    assert json.loads(result["body"]) == {"batchId": "b-1", "body": {"hello": "world"}}
    response = map_http_response(result)
    assert response.status == 200 and json.loads(response.body)["batchId"] == "b-1"


def test_binary_and_empty_bodies() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00"
    event = build_http_event(request(headers=[("content-type", "image/png")], body=png), ROUTE, {})
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == png
    event = build_http_event(request(headers=[], body=b"", raw_query=""), ROUTE, {})
    assert "body" not in event and event["isBase64Encoded"] is False
    assert "queryStringParameters" not in event and "pathParameters" not in event and "cookies" not in event
    APIGatewayProxyEventV2Model(**event)


def test_ids_look_like_api_gateway_ones() -> None:
    ids = {request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(len(i) == 16 and i.endswith("=") and i[:-1].isalnum() for i in ids)


INFO = WsConnectionInfo(
    connection_id="Yr3bTe7JoAMCJ9g=",
    api_id="wsapi12345",
    stage="prod",
    domain_name="127.0.0.1:3000",
    source_ip="127.0.0.1",
    user_agent="pytest",
    connected_at_ms=1_700_000_000_000,
    headers=[("host", "127.0.0.1:3000"), ("sec-websocket-key", "k"), ("origin", "http://127.0.0.1:3000")],
    raw_query="ticket=abc&x=1",
)


def test_websocket_events_are_valid() -> None:
    connect = build_ws_connect_event(INFO)
    model = APIGatewayWebSocketConnectEventModel(**connect)
    assert model.request_context.connection_id == "Yr3bTe7JoAMCJ9g="
    assert model.request_context.event_type == "CONNECT"
    assert connect["queryStringParameters"] == {"ticket": "abc", "x": "1"}
    assert connect["headers"]["Origin"] == "http://127.0.0.1:3000"
    assert connect["multiValueHeaders"]["Host"] == ["127.0.0.1:3000"]

    message = build_ws_message_event(INFO, "subscribe", '{"action": "subscribe"}')
    model = APIGatewayWebSocketMessageEventModel(**message)
    assert model.request_context.route_key == "subscribe"
    assert model.body == '{"action": "subscribe"}'
    binary = build_ws_message_event(INFO, "$default", b"\x00\x01")
    assert APIGatewayWebSocketMessageEventModel(**binary).is_base64_encoded is True

    disconnect = build_ws_disconnect_event(INFO, 1001, "going away")
    model = APIGatewayWebSocketDisconnectEventModel(**disconnect)
    assert model.request_context.disconnect_status_code == 1001
    assert model.request_context.event_type == "DISCONNECT"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "subscribe", "batchId": "b"}', "subscribe"),
        ('{"action": "unknown"}', "$default"),
        ('{"action": "$connect"}', "$default"),
        ('{"action": 3}', "$default"),
        ("not json", "$default"),
        ('["subscribe"]', "$default"),
        (b"\x00", "$default"),
    ],
)
def test_route_selection(body: str | bytes, expected: str) -> None:
    routes = ["$connect", "$disconnect", "subscribe", "$default"]
    assert select_ws_route("$request.body.action", body, routes) == expected


def test_route_selection_without_default_and_nested_paths() -> None:
    assert select_ws_route("$request.body.action", '{"action": "x"}', ["subscribe"]) is None
    assert select_ws_route("$request.body.meta.kind", '{"meta": {"kind": "a"}}', ["a"]) == "a"


def test_scheduled_event_is_an_eventbridge_event() -> None:
    model = EventBridgeModel(**build_scheduled_event("ReconcileFunction.EveryMinute"))
    assert model.detail_type == "Scheduled Event"
    assert model.source == "aws.events"


def test_structured_response_mapping() -> None:
    response = map_http_response(
        {
            "statusCode": 201,
            "headers": {"X-One": 1, "Content-Type": "text/plain"},
            "multiValueHeaders": {"x-many": ["a", "b"]},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": "ok",
        }
    )
    assert response.status == 201
    assert ("x-one", "1") in response.headers
    assert [v for k, v in response.headers if k == "x-many"] == ["a", "b"]
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1; Path=/", "b=2"]
    assert response.body == b"ok"


def test_inferred_responses() -> None:
    plain = map_http_response({"hello": "world"})
    assert plain.status == 200 and json.loads(plain.body) == {"hello": "world"}
    assert ("content-type", "application/json") in plain.headers
    assert map_http_response("text").body == b"text"
    assert map_http_response(None).body == b"null"
    assert map_http_response({"statusCode": 204}).body == b""


def test_base64_response_and_bad_ones() -> None:
    raw = b"\x89PNG\x00"
    response = map_http_response({"statusCode": 200, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True})
    assert response.body == raw
    for bad in ({"statusCode": "nope"}, {"statusCode": 42}, {"statusCode": None}):
        with pytest.raises(BadLambdaResponseError):
            map_http_response(bad)
