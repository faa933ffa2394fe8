"""The local stack on free ports with a small template of its own (echo handlers, a callback
task): provisioning, the HTTP and WebSocket gateway, @connections, the executed state machine,
schedules, and the figures it is judged by."""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
import websockets
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayProxyEventV2Model,
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
)
from websockets.exceptions import ConnectionClosed, InvalidStatus

from local_stack.stack import LocalStack

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parent / "fixture"
HAS_STANDIN = importlib.util.find_spec("replicate_standin") is not None and (
    importlib.util.find_spec("replicate_standin.app") is not None
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    local = LocalStack(
        quiet=True,
        template_path=FIXTURE / "template.yaml",
        root=FIXTURE,
        schedule_seconds=0.3,
        standin=HAS_STANDIN,
    )
    local.start()
    print(f"\nlocal stack (fixture template) started in {local.startup_seconds:.2f}s")
    yield local
    started = time.perf_counter()
    local.stop()
    print(f"\nlocal stack stopped in {time.perf_counter() - started:.2f}s")


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=10) as client:
        yield client


def echo(response: httpx.Response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


# -- provisioning -----------------------------------------------------------------------------


def test_resources_are_created_from_the_template(stack: LocalStack) -> None:
    assert stack.resources is not None
    table = stack.client("dynamodb").describe_table(TableName=stack.resources.tables["Table"])["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["PK", "SK"]
    assert table["GlobalSecondaryIndexes"][0]["IndexName"] == "GSI1"
    ttl = stack.client("dynamodb").describe_time_to_live(TableName=table["TableName"])["TimeToLiveDescription"]
    assert ttl["AttributeName"] == "ttl"

    buckets = [b["Name"] for b in stack.client("s3").list_buckets()["Buckets"]]
    assert buckets == [stack.resources.buckets["Bucket"]]  # the IsProd bucket is not created
    cors = stack.client("s3").get_bucket_cors(Bucket=buckets[0])["CORSRules"][0]
    assert "https://app.example.com" in cors["AllowedOrigins"]
    assert stack.base_url in cors["AllowedOrigins"]

    machine = stack.client("stepfunctions").describe_state_machine(stateMachineArn=stack.resources.state_machines["Machine"])
    assert machine["name"] == "car-marketplace-local-machine"
    assert ":function:TaskFunction" in machine["definition"] and "${" not in machine["definition"]
    names = {f["FunctionName"] for f in stack.client("lambda").list_functions()["Functions"]}
    assert names == {"EchoFunction", "WsFunction", "TaskFunction", "TickFunction"}


# -- HTTP -------------------------------------------------------------------------------------


def test_http_event_is_payload_v2_and_context_is_filled(stack: LocalStack, http: httpx.Client) -> None:
    answer = echo(
        http.get(
            "/items/it%201?a=1&a=2",
            headers=[("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "c=1; d=2"), ("X-Dev-User", "ann")],
        )
    )
    event = answer["event"]
    model = APIGatewayProxyEventV2Model(**event)
    assert model.routeKey == "GET /items/{itemId}"
    assert model.pathParameters == {"itemId": "it 1"}
    assert model.rawPath == "/items/it%201"
    assert model.queryStringParameters == {"a": "1,2"}
    assert model.headers["x-multi"] == "one,two"
    assert model.cookies == ["c=1", "d=2"]
    assert model.requestContext.authorizer.jwt.claims["sub"] == "ann"
    assert model.requestContext.authorizer.jwt.claims["iss"] == "https://issuer.example.com"
    assert answer["sibling"] == "echo-helpers"
    assert answer["function"] == "EchoFunction" and answer["memory"] == 256
    assert answer["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert 0 < answer["remainingMs"] <= 2000
    env = answer["env"]
    assert env["TABLE_NAME"] == stack.resources.tables["Table"]
    assert env["GREETING"] == "hello" and env["ECHO_ONLY"] == "yes" and env["DEV_MODE"] == "true"
    assert env["SECRET_PARAM"] == "/test/secret"
    assert env["STATE_MACHINE_ARN"] == stack.resources.state_machines["Machine"]


def test_route_precedence_and_greedy_paths(http: httpx.Client) -> None:
    assert echo(http.get("/items/special"))["event"]["routeKey"] == "GET /items/special"
    files = echo(http.delete("/files/a/b/c.png"))["event"]
    assert files["routeKey"] == "ANY /files/{proxy+}" and files["pathParameters"] == {"proxy": "a/b/c.png"}
    assert files["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "dev-user"  # no X-Dev-User header


def test_bodies_text_and_binary(http: httpx.Client) -> None:
    event = echo(http.post("/echo", json={"x": 1}))["event"]
    assert event["body"] == '{"x":1}' and event["isBase64Encoded"] is False
    event = echo(http.post("/echo", content=b"\x00\xff", headers={"content-type": "application/octet-stream"}))["event"]
    assert event["isBase64Encoded"] is True and base64.b64decode(event["body"]) == b"\x00\xff"


def test_responses_as_api_gateway_maps_them(http: httpx.Client) -> None:
    assert http.get("/ping").text == "pong"
    plain = http.get("/behave/plain")
    assert plain.json() == {"hello": "world", "n": 1.5} and plain.headers["content-type"] == "application/json"
    assert http.get("/behave/text").text == "just text"
    binary = http.get("/behave/binary")
    assert binary.content == b"\x89PNG\r\n\x1a\n" and binary.headers["content-type"] == "image/png"
    headers = http.get("/behave/headers")
    assert headers.status_code == 201 and headers.headers["x-one"] == "1"
    assert headers.headers.get_list("x-many") == ["a", "b"]
    assert headers.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
    assert headers.headers["apigw-requestid"]


def test_errors_as_api_gateway_answers_them(http: httpx.Client) -> None:
    for path in ("/behave/raise", "/behave/bad"):
        response = http.get(path)
        assert response.status_code == 500 and response.json() == {"message": "Internal Server Error"}
    missing = http.get("/nothing/here")
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    assert http.put("/ping").status_code == 404
    too_big = http.post("/echo", content=b"x" * (10 * 1024 * 1024 + 1))
    assert too_big.status_code == 413


def test_given_a_function_timeout_under_the_integration_timeout_when_it_overruns_then_lambdas_error_is_a_500(
    http: httpx.Client,
) -> None:
    started = time.perf_counter()
    response = http.get("/behave/sleep")
    assert response.status_code == 500 and response.json() == {"message": "Internal Server Error"}
    assert 1.5 < time.perf_counter() - started < 3  # the function's Timeout is 2 s ("Task timed out")


def test_cors_preflight_and_response_headers(stack: LocalStack, http: httpx.Client) -> None:
    preflight = http.options(
        "/echo",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-dev-user",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert preflight.headers["access-control-max-age"] == "600"
    local = http.options("/echo", headers={"Origin": stack.base_url, "Access-Control-Request-Method": "POST"})
    assert local.headers["access-control-allow-origin"] == stack.base_url
    evil = http.options("/echo", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in evil.headers
    response = http.get("/ping", headers={"Origin": "https://app.example.com"})
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"


def test_static_page_and_presets(http: httpx.Client) -> None:
    page = http.get("/")
    assert page.status_code == 200 and "local stack test page" in page.text
    assert page.headers["content-type"].startswith("text/html")
    script = http.get("/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    preset = http.get("/_local/presets/test_presets.csv")
    assert preset.status_code == 200 and preset.text.startswith("key,value")
    assert preset.headers["content-type"].startswith("text/csv")
    assert http.get("/_local/presets/missing.csv").status_code == 404
    assert http.get("/../template.yaml").status_code == 404
    assert http.get("/%2e%2e/template.yaml").status_code == 404


# -- WebSocket and @connections ---------------------------------------------------------------


def table_item(stack: LocalStack, pk: str, sk: str, wait: float = 3.0) -> dict | None:
    dynamodb = stack.client("dynamodb")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        item = dynamodb.get_item(TableName=stack.resources.tables["Table"], Key={"PK": {"S": pk}, "SK": {"S": sk}})
        if "Item" in item:
            return json.loads(item["Item"]["event"]["S"])
        time.sleep(0.05)
    return None


async def ask(ws, message: dict) -> dict:
    await ws.send(json.dumps(message))
    return json.loads(await asyncio.wait_for(ws.recv(), 5))


def test_websocket_routes_events_and_connections_api(stack: LocalStack) -> None:
    async def scenario() -> tuple[str, dict, dict, dict, dict, dict]:
        async with websockets.connect(f"{stack.ws_url}?ticket=good", user_agent_header="pytest-ws") as ws:
            echoed = await ask(ws, {"action": "echo", "n": 1})
            default = await ask(ws, {"action": "nope"})
            gone = await ask(ws, {"action": "echo", "do": "gone"})
            large = await ask(ws, {"action": "echo", "do": "too-large"})
            info = await ask(ws, {"action": "echo", "do": "info"})
            await ws.send("not json at all")
            raw = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert raw["route"] == "$default"
            connection_id = echoed["event"]["requestContext"]["connectionId"]
        return connection_id, echoed, default, gone, large, info

    connection_id, echoed, default, gone, large, info = asyncio.run(scenario())
    message = APIGatewayWebSocketMessageEventModel(**echoed["event"])
    assert message.request_context.route_key == "echo" and json.loads(message.body) == {"action": "echo", "n": 1}
    assert echoed["sibling"] == "ws-helpers"
    assert default["route"] == "$default"
    assert gone["gone"] is True, "botocore raised GoneException for an unknown connection"
    assert large["tooLarge"] is True
    assert info["info"]["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "pytest-ws"}

    connect = table_item(stack, f"WS#{connection_id}", "connect")
    assert connect is not None
    model = APIGatewayWebSocketConnectEventModel(**connect)
    assert model.request_context.stage == "test"
    assert connect["queryStringParameters"] == {"ticket": "good"}
    disconnect = table_item(stack, f"WS#{connection_id}", "disconnect")
    assert disconnect is not None
    assert APIGatewayWebSocketDisconnectEventModel(**disconnect).request_context.disconnect_status_code == 1000


def test_connect_refused_by_the_handler_is_403(stack: LocalStack) -> None:
    async def attempt(ticket: str) -> int:
        try:
            async with websockets.connect(f"{stack.ws_url}?ticket={ticket}"):
                return 101
        except InvalidStatus as exc:
            return exc.response.status_code

    assert asyncio.run(attempt("bad")) == 403
    assert asyncio.run(attempt("raise")) == 403


def test_server_side_close_and_oversized_messages(stack: LocalStack) -> None:
    async def kicked() -> int | None:
        async with websockets.connect(f"{stack.ws_url}?ticket=good") as ws:
            await ws.send(json.dumps({"action": "echo", "do": "kick"}))
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
        return None

    async def oversized() -> int | None:
        async with websockets.connect(f"{stack.ws_url}?ticket=good", max_size=None) as ws:
            await ws.send("x" * (128 * 1024 + 1))
            try:
                await asyncio.wait_for(ws.recv(), 5)
            except ConnectionClosed as exc:
                return exc.rcvd.code if exc.rcvd else None
        return None

    assert asyncio.run(kicked()) == 1000
    assert asyncio.run(oversized()) == 1009


def test_post_to_an_unknown_connection_raises_gone(stack: LocalStack) -> None:
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    with pytest.raises(client.exceptions.GoneException):
        client.post_to_connection(ConnectionId="Zm9vYmFyYmF6cXV4PQ=", Data=b"hi")
    with pytest.raises(client.exceptions.GoneException):
        client.get_connection(ConnectionId="Zm9vYmFyYmF6cXV4PQ=")
    with pytest.raises(client.exceptions.GoneException):
        client.delete_connection(ConnectionId="Zm9vYmFyYmF6cXV4PQ=")


# -- Step Functions, schedules, invoke ---------------------------------------------------------


def run_execution(stack: LocalStack, http: httpx.Client, name: str, payload: dict) -> dict:
    started = http.post("/start", json={"name": name, "input": payload})
    assert started.status_code == 202, started.text
    sfn = stack.client("stepfunctions")
    arn = started.json()["executionArn"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError(f"{name} still running")


def test_callback_task_resumed_from_the_handlers_thread(stack: LocalStack, http: httpx.Client) -> None:
    execution = run_execution(stack, http, "ok-1", {"mode": "ok", "value": 42})
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["result"] == {"echo": 42}
    assert output["described"] == {"described": {"function": "EchoFunction", "got": {"echo": 42}}}


def test_function_error_name_is_the_exception_class(stack: LocalStack, http: httpx.Client) -> None:
    caught = json.loads(run_execution(stack, http, "raise-1", {"mode": "raise", "value": 0})["output"])
    assert caught["outcome"] == "caught" and caught["error"]["Error"] == "CustomTaskError"
    failed = json.loads(run_execution(stack, http, "fail-1", {"mode": "fail", "value": 0})["output"])
    assert failed["outcome"] == "other" and failed["error"]["Error"] == "PredictionFailed"


def test_schedules_fire_with_a_scheduled_event(stack: LocalStack) -> None:
    dynamodb = stack.client("dynamodb")
    deadline = time.monotonic() + 5
    items: list = []
    while time.monotonic() < deadline and len(items) < 2:
        items = dynamodb.query(
            TableName=stack.resources.tables["Table"],
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": "TICK"}},
        )["Items"]
        time.sleep(0.1)
    assert len(items) >= 2
    event = json.loads(items[0]["event"]["S"])
    assert event["detail-type"] == "Scheduled Event" and event["source"] == "aws.events"


def test_invoke_in_process(stack: LocalStack) -> None:
    assert stack.invoke("EchoFunction", {"describe": [1]}) == {"function": "EchoFunction", "got": [1]}


@pytest.mark.skipif(not HAS_STANDIN, reason="replicate_standin is not written yet")
def test_standin_is_served(stack: LocalStack) -> None:
    assert stack.standin is not None
    response = httpx.get(f"{stack.standin_url}/v1/predictions", headers={"Authorization": "Bearer wrong"})
    assert response.status_code in (401, 403)
    token = {"Authorization": f"Bearer {stack.secrets.replicate_api_token}"}
    assert httpx.get(f"{stack.standin_url}/v1/predictions", headers=token).status_code == 200
    secret = httpx.get(f"{stack.standin_url}/v1/webhooks/default/secret", headers=token).json()
    assert secret["key"] == stack.secrets.webhook_secret


# -- figures -----------------------------------------------------------------------------------


def test_measure_gateway_overhead_and_connection_posts(stack: LocalStack, http: httpx.Client) -> None:
    """Prints the figures (no timed assertion): ping p50/p95 over 200 requests, and the latency
    of an @connections post (boto3 from this thread → the browser's socket)."""
    for _ in range(20):
        http.get("/ping")
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        assert http.get("/ping").status_code == 200
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    ping_p50, ping_p95 = statistics.median(samples), samples[189]

    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=stack.base_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )

    async def posts() -> tuple[list[float], list[float]]:
        async with websockets.connect(f"{stack.ws_url}?ticket=good") as ws:
            info = await ask(ws, {"action": "echo"})
            connection_id = info["event"]["requestContext"]["connectionId"]
            loop = asyncio.get_running_loop()
            post_ms, round_trip_ms = [], []
            for i in range(100):
                started = time.perf_counter()
                await loop.run_in_executor(
                    None, lambda i=i: management.post_to_connection(ConnectionId=connection_id, Data=f"{i}".encode())
                )
                post_ms.append((time.perf_counter() - started) * 1000)
                assert await asyncio.wait_for(ws.recv(), 5) == f"{i}"
                round_trip_ms.append((time.perf_counter() - started) * 1000)
            for _ in range(30):  # message → handler → @connections → socket
                started = time.perf_counter()
                await ask(ws, {"action": "echo"})
                round_trip_ms.append(-(time.perf_counter() - started) * 1000)
            return post_ms, round_trip_ms

    post_ms, round_trips = asyncio.run(posts())
    ws_route = sorted(-v for v in round_trips if v < 0)
    print(
        f"\nFIGURES gateway ping p50={ping_p50:.2f}ms p95={ping_p95:.2f}ms (200 req, keep-alive); "
        f"@connections post p50={statistics.median(post_ms):.2f}ms; "
        f"WS message→handler→@connections→client p50={statistics.median(ws_route):.2f}ms; "
        f"stack start {stack.startup_seconds:.2f}s"
    )
