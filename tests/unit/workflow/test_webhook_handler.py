"""POST /webhooks/replicate end to end with moto: signature first, then the cell the webhook URL's
query names (one read; it must hold the delivered prediction), then the cell path, whose
conditional transitions dedupe (no receipts)."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from standardwebhooks import Webhook
from workflow_testkit import OLD_SECRET, OWNER, SECRET, World, data_uri, make_batch, png_bytes, start

from marketplace import keys, outputs, webhook_delivery
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

webhook = load_function("replicate_webhook")


@pytest.fixture(autouse=True)
def _no_record_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_delivery, "RECORD_WAITS_SECONDS", ())


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


def test_given_a_signed_success_when_delivered_then_one_read_of_the_named_cell_and_the_cell_completes(world: World) -> None:
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    with world.dynamodb_calls() as calls:
        status, body = call(http_event(done(), ANGLE_QUERY, base64_body=True))

    assert (status, body) == (200, {"ok": True, "outcome": "completed"})
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert world.sfn.successes and world.job_updates()[-1]["status"] == "completed"
    reads = [params["Key"] for name, params in calls if name == "GetItem"]
    # The cell, then (for the push) its owner's connections row; no pointer, receipt or batch row.
    assert reads == [keys.cell_key("b-1", "front_0", None), keys.owner_connections_key(OWNER)]
    assert not [name for name, _ in calls if name == "PutItem"]  # no receipt written


def test_given_the_owner_in_the_query_when_delivered_then_one_read_brings_the_cell_and_its_owners_connections(
    world: World,
) -> None:
    connection = world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    with world.dynamodb_calls() as calls:
        status, body = call(http_event(done(), {**ANGLE_QUERY, "owner": OWNER}))

    assert (status, body) == (200, {"ok": True, "outcome": "completed"})
    operations = [name for name, _ in calls]
    assert operations.count("BatchGetItem") == 1 and "GetItem" not in operations  # no read for the push
    assert [(target, m["data"]["result"]["status"]) for target, m in world.ws.posts] == [(connection, "completed")]


def test_given_a_query_naming_another_owner_when_delivered_then_the_cells_own_owner_gets_the_push(world: World) -> None:
    """The query is not signed: an owner it names is believed only where the cell agrees."""
    world.connect()
    world.connect(owner="someone-else", connection_id="conn-other")
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    with world.dynamodb_calls() as calls:
        status, _ = call(http_event(done(), {**ANGLE_QUERY, "owner": "someone-else"}))

    assert status == 200
    assert [target for target, _ in world.ws.posts] == ["conn-1"]  # never the named stranger's
    reads = [params["Key"] for name, params in calls if name == "GetItem"]
    assert reads == [keys.owner_connections_key(OWNER)]  # the cell's owner's row, read for the push


def test_given_a_delivery_signed_with_the_previous_secret_when_delivered_then_it_is_accepted(world: World) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    status, body = call(http_event(done(), ANGLE_QUERY, secret=OLD_SECRET))
    assert (status, body) == (200, {"ok": True, "outcome": "completed"})
    assert world.cell("b-1", "front_0")["status"] == "completed"


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
    assert world.cell("b-1", "front_0")["status"] == "processing"
    assert world.sfn.successes == [] and world.ws.posts == []


@pytest.mark.parametrize("msg_id", ["msg-1", "msg-2"], ids=["same webhook-id", "new webhook-id"])
def test_given_a_delivery_already_handled_when_redelivered_then_200_unchanged_and_nothing_runs_again(
    world: World, monkeypatch: pytest.MonkeyPatch, msg_id: str
) -> None:
    # No receipts: the cell itself (terminal, workflow told) makes the redelivery a no-op.
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    assert call(http_event(done(), ANGLE_QUERY, msg_id="msg-1"))[0] == 200
    monkeypatch.setattr(outputs, "fetch_output", lambda _: pytest.fail("must not download again"))

    assert call(http_event(done(), ANGLE_QUERY, msg_id=msg_id)) == (200, {"ok": True, "outcome": "unchanged"})
    assert len(world.sfn.successes) == 1 and len(world.assets()) == 1
    assert world.batch("b-1")["completedJobs"] == 1
    assert [u["status"] for u in world.job_updates()] == ["completed"]


@pytest.mark.parametrize("status", ["starting", "processing"])
def test_given_a_running_status_when_delivered_then_200_ignored_as_not_final_and_the_cell_is_not_read(
    world: World, status: str
) -> None:
    # Predictions subscribe to `completed` only; a running status is a stray and changes nothing.
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    before = world.cell("b-1", "front_0")

    with world.dynamodb_calls() as calls:
        answer = call(http_event({"id": "p-1", "status": status}, ANGLE_QUERY))

    assert answer == (200, {"ok": True, "ignored": "not_final"})
    assert calls == []
    assert world.cell("b-1", "front_0") == before and world.ws.posts == []


def test_given_a_late_start_after_completion_when_delivered_then_the_cell_stays_completed(world: World) -> None:
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    call(http_event(done(), ANGLE_QUERY, msg_id="m-done"))

    status, body = call(http_event({"id": "p-1", "status": "starting"}, ANGLE_QUERY, msg_id="m-start"))

    assert (status, body) == (200, {"ok": True, "ignored": "not_final"})
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert [u["status"] for u in world.job_updates()] == ["completed"]


def test_given_a_prediction_the_named_cell_does_not_hold_when_delivered_then_200_ignored_and_nothing_changes(
    world: World,
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    status, body = call(http_event(done("p-unknown"), ANGLE_QUERY))

    assert (status, body) == (200, {"ok": True, "ignored": "cell_mismatch"})
    assert world.cell("b-1", "front_0")["status"] == "processing"
    assert world.keys() == [] and world.sfn.successes == []


def test_given_an_old_final_webhook_for_a_cell_without_a_prediction_when_delivered_then_200_ignored(
    world: World,
) -> None:
    make_batch(world.repo)  # the cell never recorded a prediction; the delivery has no recent created_at
    status, body = call(http_event(done("p-unknown"), ANGLE_QUERY))
    assert (status, body) == (200, {"ok": True, "ignored": "cell_mismatch"})
    assert world.cell("b-1", "front_0")["status"] == "queued"


def test_given_a_fresh_final_webhook_that_beats_runpredictions_record_when_delivered_then_503_asks_for_a_retry(
    world: World,
) -> None:
    make_batch(world.repo)
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    status, body = call(http_event({**done("p-racing"), "created_at": created}, ANGLE_QUERY))
    assert status == 503 and body["error"]["code"] == "unknown_prediction"
    assert world.cell("b-1", "front_0")["status"] == "queued"


def test_given_a_fast_prediction_whose_record_lands_while_the_webhook_waits_when_delivered_then_the_cell_completes(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_batch(world.repo)
    waits: list[float] = []

    def record_meanwhile(seconds: float) -> None:  # RunPrediction's write lands during the wait
        waits.append(seconds)
        start(world.repo, "b-1", "front_0", None, "p-fast", "tok-1")

    monkeypatch.setattr(webhook_delivery, "RECORD_WAITS_SECONDS", (0.1, 0.25))
    monkeypatch.setattr(webhook_delivery, "time", SimpleNamespace(sleep=record_meanwhile, time=time.time))
    created = datetime.now(UTC).isoformat().replace("+00:00", "Z")

    status, body = call(http_event({**done("p-fast"), "created_at": created}, ANGLE_QUERY))

    assert (status, body) == (200, {"ok": True, "outcome": "completed"})
    assert waits == [0.1]  # re-read once, then it held the prediction


@pytest.mark.parametrize(
    ("query", "ignored"),
    [
        ({"batchId": "b-2", "angleKey": "front_0"}, "unknown_cell"),
        ({"batchId": "b-1", "angleKey": "side_90"}, "unknown_cell"),
        ({"batchId": "b-1"}, "unknown_cell"),
        (None, "unknown_cell"),
        ({"batchId": "b-1", "angleKey": "front_0", "colorKey": "red_metallic"}, "cell_mismatch"),
    ],
)
def test_given_a_query_naming_another_or_no_cell_when_delivered_then_200_ignored_and_nothing_changes(
    world: World, query: dict[str, str] | None, ignored: str
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    start(world.repo, "b-1", "front_0", "red_metallic", "p-colour", "tok-c")

    status, body = call(http_event(done(), query))

    assert (status, body) == (200, {"ok": True, "ignored": ignored})
    assert world.cell("b-1", "front_0")["status"] == "processing"
    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "processing"
    assert world.keys() == [] and world.sfn.successes == []


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
    event["body"] = "x" * (webhook_delivery.MAX_BODY_BYTES + 1)
    assert call(event)[0] == 413


def test_given_s3_failing_when_a_success_is_delivered_then_500_the_cell_stays_open_and_the_retry_succeeds(
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
    assert world.cell("b-1", "front_0")["status"] == "processing"

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
