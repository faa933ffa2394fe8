"""POST /webhooks/replicate end to end with moto: signature first, dedupe, pointer, cell path."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from workflow_testkit import OLD_SECRET, SECRET, World, data_uri, make_batch, png_bytes, start

from marketplace import outputs
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

webhook = load_function("replicate_webhook")


@pytest.fixture(autouse=True)
def _no_pointer_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace import webhook_delivery

    monkeypatch.setattr(webhook_delivery, "POINTER_WAITS_SECONDS", ())
    monkeypatch.setattr(webhook_delivery, "START_POINTER_WAITS_SECONDS", ())


def http_event(
    prediction: dict[str, Any] | bytes,
    query: dict[str, str] | None,
    secret: str = SECRET,
    msg_id: str = "msg-1",
    ts: int | None = None,
    base64_body: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = prediction if isinstance(prediction, bytes) else json.dumps(prediction).encode()
    ts = int(time.time()) if ts is None else ts
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body.decode())
    signed = {"Webhook-Id": msg_id, "Webhook-Timestamp": str(ts), "Webhook-Signature": signature}
    query_string = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/replicate",
        "rawPath": "/webhooks/replicate",
        "rawQueryString": query_string,
        "headers": {"content-type": "application/json", "user-agent": "Replicate-Webhook/1.0", **signed, **(headers or {})},
        "queryStringParameters": query or None,
        "requestContext": {
            "http": {"method": "POST", "path": "/webhooks/replicate", "sourceIp": "203.0.113.9"},
            "routeKey": "POST /webhooks/replicate",
            "stage": "$default",
        },
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    answer = webhook.lambda_handler(event, FakeLambdaContext())
    return answer["statusCode"], json.loads(answer["body"])


ANGLE_QUERY = {"batchId": "b-1", "angleKey": "front_0"}


def done(pid: str = "p-1") -> dict[str, Any]:
    return {"id": pid, "status": "succeeded", "output": data_uri(png_bytes(320, 240)), "error": None}


def test_given_a_signed_success_when_delivered_then_the_cell_completes_and_the_receipt_is_written(world: World) -> None:
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    status, body = call(http_event(done(), ANGLE_QUERY, base64_body=True))

    assert (status, body) == (200, {"ok": True, "outcome": "completed"})
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert world.repo.has_webhook_receipt("msg-1")
    assert world.sfn.successes and world.job_updates()[-1]["status"] == "completed"


def test_given_a_delivery_signed_with_the_previous_secret_when_delivered_then_it_is_accepted(world: World) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    status, _ = call(http_event({"id": "p-1", "status": "processing"}, ANGLE_QUERY, secret=OLD_SECRET))
    assert status == 200
    assert world.cell("b-1", "front_0")["status"] == "processing"


@pytest.mark.parametrize(
    "tamper",
    ["wrong_secret", "stale", "future", "missing_signature", "malformed_signature", "tampered_body"],
)
def test_given_a_badly_signed_delivery_when_delivered_then_401_and_nothing_changes(world: World, tamper: str) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    other = "whsec_" + base64.b64encode(b"not-the-configured-secret-000").decode()
    now = int(time.time())
    event = {
        "wrong_secret": lambda: http_event(done(), ANGLE_QUERY, secret=other),
        "stale": lambda: http_event(done(), ANGLE_QUERY, ts=now - 600),
        "future": lambda: http_event(done(), ANGLE_QUERY, ts=now + 600),
        "missing_signature": lambda: http_event(done(), ANGLE_QUERY, headers={"Webhook-Signature": ""}),
        "malformed_signature": lambda: http_event(done(), ANGLE_QUERY, headers={"Webhook-Signature": "v1"}),
        "tampered_body": lambda: {**http_event(done(), ANGLE_QUERY), "body": json.dumps(done()).replace("p-1", "p-2")},
    }[tamper]()

    status, body = call(event)

    assert status == 401
    assert body["error"]["code"] == "invalid_signature"
    assert SECRET not in json.dumps(body)
    assert world.cell("b-1", "front_0")["status"] == "queued"
    assert not world.repo.has_webhook_receipt("msg-1")
    assert world.sfn.successes == [] and world.ws.posts == []


def test_given_a_webhook_id_already_handled_when_redelivered_then_200_duplicate_and_nothing_runs(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    assert call(http_event(done(), ANGLE_QUERY))[0] == 200
    monkeypatch.setattr(outputs, "fetch_output", lambda _: pytest.fail("must not download again"))

    assert call(http_event(done(), ANGLE_QUERY)) == (200, {"ok": True, "duplicate": True})
    assert len(world.sfn.successes) == 1


def test_given_a_late_start_after_completion_when_delivered_then_the_cell_stays_completed(world: World) -> None:
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    call(http_event(done(), ANGLE_QUERY, msg_id="m-done"))

    status, body = call(http_event({"id": "p-1", "status": "starting"}, ANGLE_QUERY, msg_id="m-start"))

    assert (status, body["outcome"]) == (200, "unchanged")
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert [u["status"] for u in world.job_updates()] == ["completed"]


def test_given_an_unknown_prediction_when_delivered_then_200_ignored(world: World) -> None:
    make_batch(world.repo)
    status, body = call(http_event(done("p-unknown"), ANGLE_QUERY))
    assert (status, body) == (200, {"ok": True, "ignored": "unknown_prediction"})
    assert not world.repo.has_webhook_receipt("msg-1")


def test_given_a_fresh_terminal_webhook_that_beats_the_pointer_when_delivered_then_503_asks_for_a_retry(
    world: World,
) -> None:
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    status, body = call(http_event({**done("p-racing"), "created_at": created}, ANGLE_QUERY))
    assert status == 503 and body["error"]["code"] == "unknown_prediction"


@pytest.mark.parametrize(
    "query",
    [
        {"batchId": "b-2", "angleKey": "front_0"},
        {"batchId": "b-1", "angleKey": "side_90"},
        {"batchId": "b-1", "angleKey": "front_0", "colorKey": "red_metallic"},
        None,
    ],
)
def test_given_a_query_that_disagrees_with_the_pointer_when_delivered_then_200_ignored_and_nothing_changes(
    world: World, query: dict[str, str] | None
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    status, body = call(http_event(done(), query))

    assert (status, body) == (200, {"ok": True, "ignored": "cell_mismatch"})
    assert world.cell("b-1", "front_0")["status"] == "queued"


@pytest.mark.parametrize(
    ("payload", "code"),
    [(b"not json", "invalid_json"), (b'{"status":"succeeded"}', "invalid_prediction"), (b"[1,2]", "invalid_prediction")],
)
def test_given_a_signed_body_that_is_not_a_prediction_when_delivered_then_400(
    world: World, payload: bytes, code: str
) -> None:
    status, body = call(http_event(payload, ANGLE_QUERY))
    assert (status, body["error"]["code"]) == (400, code)


def test_given_a_body_over_the_cap_when_delivered_then_413_before_anything_else(world: World) -> None:
    event = http_event(done(), ANGLE_QUERY)
    event["body"] = "x" * (__import__('marketplace.webhook_delivery').webhook_delivery.MAX_BODY_BYTES + 1)
    assert call(event)[0] == 413


def test_given_s3_failing_when_a_success_is_delivered_then_500_no_receipt_and_the_retry_succeeds(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    real_put = outputs._put

    def broken_put(key: str, body: bytes) -> None:
        raise RuntimeError("S3 unavailable")

    monkeypatch.setattr(outputs, "_put", broken_put)
    status, body = call(http_event(done(), ANGLE_QUERY))
    assert (status, body["error"]["code"]) == (500, "internal")
    assert not world.repo.has_webhook_receipt("msg-1")
    assert world.cell("b-1", "front_0")["status"] == "queued"

    monkeypatch.setattr(outputs, "_put", real_put)
    assert call(http_event(done(), ANGLE_QUERY)) == (200, {"ok": True, "outcome": "completed"})
    assert world.cell("b-1", "front_0")["status"] == "completed"


def test_given_a_colour_prediction_when_delivered_with_its_colour_query_then_the_colour_cell_completes(
    world: World,
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", "red_metallic", "p-c", "tok-c")
    query = {"batchId": "b-1", "angleKey": "front_0", "colorKey": "red_metallic"}

    assert call(http_event(done("p-c"), query))[0] == 200
    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "completed"
    assert world.keys() == ["batches/b-1/front_0/red_metallic.png", "batches/b-1/front_0/red_metallic.thumb.png"]
