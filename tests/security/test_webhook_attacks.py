"""POST /webhooks/replicate under attack, against the running stack over HTTP.

Two batches are left with their angle prediction in flight (the stand-in takes 30 s and the
reconciler is off), so every forged "succeeded"/"failed" delivery would change an open cell if it
got through. Each attack must be refused (401/413) or ignored (2xx), with no change to either
batch's rows, its S3 objects or the gallery. The webhook reads the cell its URL's query names and
acts only when that cell holds the delivered prediction; no receipt row is ever written (the
cell's conditional transitions dedupe). A correctly signed delivery at the end proves the same
request shape does change state when it is genuine, and that its replay changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from marketplace.webhook_delivery import MAX_BODY_BYTES
from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.stack_process import running_stack
from tests.support.stack_state import MotoState, Standin, cell_of, known_secrets

pytestmark = pytest.mark.security
OWNER = "dealer-webhooks"


def png_data_uri() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class World:
    def __init__(self, urls: dict[str, Any], secret: str) -> None:
        self.base_url = str(urls["base_url"])
        self.moto = MotoState(str(urls["moto_url"]))
        self.standin = Standin(str(urls["standin_url"]), urls["secrets"]["LOCAL_REPLICATE_API_TOKEN"])
        self.secret = secret
        self.batches: dict[str, dict[str, Any]] = {}  # batchId -> its angle prediction

    def state(self) -> dict[str, Any]:
        return {
            "rows": {b: self.moto.batch_rows(b) for b in self.batches},
            "objects": {b: sorted(self.moto.object_keys(f"batches/{b}/")) for b in self.batches},
            "gallery": self.moto.gallery_assets(OWNER),
        }

    def receipt(self, msg_id: str) -> dict[str, Any] | None:
        """A webhook receipt row as the product wrote them before the cell deduped: never again."""
        return self.moto.get(f"WEBHOOK#{msg_id}", "WEBHOOK")

    def deliver(self, body: bytes, query: str, headers: dict[str, str]) -> httpx.Response:
        url = f"{self.base_url}/webhooks/replicate" + (f"?{query}" if query else "")
        return httpx.post(url, content=body, headers={"content-type": "application/json", **headers}, timeout=60)

    def signed(self, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None,
               secret: str | None = None) -> dict[str, str]:
        msg_id = msg_id or "msg_" + secrets.token_hex(12)
        timestamp = int(time.time()) if timestamp is None else timestamp
        return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(secret or self.secret, msg_id, timestamp, body)}


def outcome(prediction: dict[str, Any], status: str = "succeeded") -> bytes:
    body = {**prediction, "status": status, "output": png_data_uri() if status == "succeeded" else None,
            "error": "forged failure" if status == "failed" else None}
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    env = {**known_secrets(), "STANDIN_LATENCY_SECONDS": "30", "LOCAL_SCHEDULE_SECONDS": "0"}
    with running_stack(env) as urls:
        urls = {**urls, "secrets": env}
        client = E2EClient(str(urls["base_url"]), user=OWNER)
        standin = Standin(str(urls["standin_url"]), env["LOCAL_REPLICATE_API_TOKEN"])
        world = World(urls, standin.webhook_secret())
        sources = client.upload([jpeg_bytes(21)])
        ids = [client.create_batch(sources, ["front_0"], [])["batchId"] for _ in range(2)]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = {cell_of(p)[0]: p for p in standin.predictions() if cell_of(p)[0] in ids}
            cells = [world.moto.cells(b) for b in ids]
            if len(found) == 2 and all(c and c[0]["status"] == "processing" for c in cells):
                break
            time.sleep(0.2)
        else:
            raise AssertionError(f"predictions did not start: {found}")
        world.batches = {b: found[b] for b in ids}
        client.close()
        yield world


@pytest.fixture
def target(world: World) -> tuple[dict[str, Any], str]:
    """The first batch's open angle prediction and the exact query it was created with."""
    prediction = next(iter(world.batches.values()))
    return prediction, prediction["webhook"].split("?", 1)[1]


def refused_without_change(world: World, send: Any, expected_status: int | tuple[int, ...]) -> httpx.Response:
    before = world.state()
    answer = send()
    allowed = expected_status if isinstance(expected_status, tuple) else (expected_status,)
    assert answer.status_code in allowed, (answer.status_code, answer.text[:300])
    after = world.state()
    assert after == before, f"an attack changed state: {_changes(before, after)}"
    return answer


def _changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Where two states differ, as paths with the old and new value (the failure's message)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return [c for k in sorted(set(before) | set(after), key=str)
                for c in _changes(before.get(k), after.get(k), f"{path}/{k}")]
    return [] if before == after else [f"{path}: {before!r:.120} -> {after!r:.120}"]


@pytest.mark.timeout(120)
def test_given_an_unsigned_delivery_when_posted_then_401_and_nothing_changes(world: World, target):
    prediction, query = target
    answer = refused_without_change(world, lambda: world.deliver(outcome(prediction), query, {}), 401)
    assert answer.json()["error"]["code"] == "invalid_signature"


@pytest.mark.timeout(120)
def test_given_a_delivery_signed_with_another_secret_when_posted_then_401_and_nothing_changes(world: World, target):
    prediction, query = target
    body = outcome(prediction)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    headers = world.signed(body, secret=other)
    refused_without_change(world, lambda: world.deliver(body, query, headers), 401)
    assert world.receipt(headers["webhook-id"]) is None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_given_a_tampered_body_when_posted_then_401_and_nothing_changes(world: World, target, status: str):
    prediction, query = target
    genuine = json.dumps({**prediction, "status": "processing"}).encode()
    headers = world.signed(genuine)  # a real signature, of another body
    refused_without_change(world, lambda: world.deliver(outcome(prediction, status), query, headers), 401)


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("skew", "why"), [(-600, "stale (a replay)"), (+600, "from the future")])
def test_given_a_timestamp_outside_the_tolerance_when_posted_then_401_and_nothing_changes(world: World, target, skew, why):
    prediction, query = target
    body = outcome(prediction)
    headers = world.signed(body, timestamp=int(time.time()) + skew)  # correctly signed for that time
    answer = refused_without_change(world, lambda: world.deliver(body, query, headers), 401)
    assert "timestamp" in answer.json()["error"]["message"], why


@pytest.mark.timeout(120)
@pytest.mark.parametrize("signature", [
    "v1", "v1,", ",abc", "v1,***not-base64***", "garbage", "v1 ,abc", "v1,=", "v1," + "A" * 5000,
    "v2,{valid}", "v1a,{valid}", "{valid}",
])
def test_given_a_malformed_signature_header_when_posted_then_401_and_nothing_changes(world: World, target, signature):
    prediction, query = target
    body = outcome(prediction)
    headers = world.signed(body)
    headers["webhook-signature"] = signature.replace("{valid}", headers["webhook-signature"].split(",", 1)[1])
    refused_without_change(world, lambda: world.deliver(body, query, headers), 401)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("header", ["webhook-id", "webhook-timestamp"])
def test_given_a_malformed_id_or_timestamp_header_when_posted_then_401_and_nothing_changes(world: World, target, header):
    prediction, query = target
    body = outcome(prediction)
    if header == "webhook-id":
        headers = world.signed(body, msg_id="msg_" + "x" * 300)  # signed, but longer than any real id
    else:
        headers = world.signed(body)
        headers["webhook-timestamp"] = headers["webhook-timestamp"] + ".0"
    refused_without_change(world, lambda: world.deliver(body, query, headers), 401)


@pytest.mark.timeout(120)
def test_given_a_signed_body_over_the_handler_cap_when_posted_then_413_and_nothing_changes(world: World, target):
    prediction, query = target
    pad = "x" * (MAX_BODY_BYTES + 512 * 1024)  # over our cap, under Lambda's 6 MB
    body = json.dumps({**prediction, "status": "succeeded", "output": png_data_uri(), "pad": pad}).encode()
    headers = world.signed(body)
    refused_without_change(world, lambda: world.deliver(body, query, headers), 413)


@pytest.mark.timeout(120)
def test_given_a_body_over_api_gateways_10_mb_when_posted_then_the_gateway_answers_413(world: World, target):
    _, query = target
    body = b'{"pad":"' + b"x" * (11 * 1024 * 1024) + b'"}'
    refused_without_change(world, lambda: world.deliver(body, query, world.signed(body)), 413)


@pytest.mark.timeout(120)
def test_given_a_valid_signature_for_an_unknown_prediction_when_posted_then_ignored_and_nothing_changes(world: World, target):
    prediction, query = target
    forged = {**prediction, "id": "unknownprediction000000000", "created_at": "2020-01-01T00:00:00Z"}
    body = outcome(forged)
    headers = world.signed(body)
    answer = refused_without_change(world, lambda: world.deliver(body, query, headers), 200)
    assert answer.json().get("ignored") == "cell_mismatch"  # the named cell holds another prediction
    assert world.receipt(headers["webhook-id"]) is None


@pytest.mark.timeout(120)
@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_given_a_prediction_of_one_batch_with_another_batchs_query_when_posted_then_ignored_and_neither_changes(
    world: World, status: str
):
    (first, prediction), (second, _) = list(world.batches.items())
    query = prediction["webhook"].split("?", 1)[1].replace(first, second)
    assert f"batchId={second}" in query
    body = outcome(prediction, status)
    answer = refused_without_change(world, lambda: world.deliver(body, query, world.signed(body)), 200)
    assert answer.json().get("ignored") == "cell_mismatch"


@pytest.mark.timeout(120)
def test_given_a_valid_delivery_without_its_query_when_posted_then_ignored_and_nothing_changes(world: World, target):
    prediction, _ = target
    body = outcome(prediction)
    answer = refused_without_change(world, lambda: world.deliver(body, "", world.signed(body)), 200)
    assert answer.json().get("ignored") == "unknown_cell"


@pytest.mark.timeout(120)
def test_given_the_genuine_delivery_when_posted_then_the_cell_completes_once_and_its_replay_changes_nothing(
    world: World,
):
    """The control: the attacks above used this very shape; signed correctly, it goes through."""
    batch_id, prediction = list(world.batches.items())[-1]
    query = prediction["webhook"].split("?", 1)[1]
    body = outcome(prediction)
    headers = world.signed(body)

    first = world.deliver(body, query, headers)
    assert (first.status_code, first.json().get("outcome")) == (200, "completed"), first.text
    cell = world.moto.cells(batch_id)[0]
    assert cell["status"] == "completed"
    assert {cell["imageKey"], cell["thumbKey"]} <= world.moto.object_keys(f"batches/{batch_id}/")
    assert world.receipt(headers["webhook-id"]) is None  # the completed cell is the dedupe
    # The resumed workflow finalizes the batch on its own time: let it, so that the replays
    # below are judged against a settled state.
    deadline = time.monotonic() + 60
    while world.moto.batch(batch_id)["status"] != "completed":
        assert time.monotonic() < deadline, "the workflow did not finalize the batch"
        time.sleep(0.1)

    replay = refused_without_change(world, lambda: world.deliver(body, query, headers), 200)  # same id, same bytes
    assert replay.json().get("outcome") == "unchanged"
    again = refused_without_change(world, lambda: world.deliver(body, query, world.signed(body)), 200)  # new id
    assert again.json().get("outcome") == "unchanged"
    assert len(world.moto.gallery_assets(OWNER, batch_id)) == 1
    assert int(world.moto.batch(batch_id)["completedJobs"]) == 1
