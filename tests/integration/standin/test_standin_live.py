"""The official ``replicate`` client (1.0.7) against the stand-in over real local sockets."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import replicate
import standardwebhooks
from PIL import Image
from replicate.exceptions import ReplicateError
from replicate.webhook import Webhooks

from replicate_standin import model
from tests.unit.standin.standin_testkit import angle_prompt, car_photo, colour_counts, colour_prompt

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_given_the_official_client_when_it_creates_and_reads_a_prediction_then_webhooks_verify_both_ways(live, receiver):
    photos = [receiver.image_url(f"{i}.jpg", car_photo(size=(1000 + 40 * i, 750))) for i in range(3)]
    with live() as standin:
        client = standin.client()
        created = client.predictions.create(
            model="google/nano-banana",
            input={"prompt": angle_prompt(), "image_input": photos, "output_format": "png"},
            webhook=receiver.hook_url,
            webhook_events_filter=["start", "completed"],
        )
        assert created.status == "starting" and created.model == "google/nano-banana"
        assert created.input["image_input"] == photos
        assert standin.store.wait_idle(10)
        done = client.predictions.get(created.id)
        secret = client.webhooks.default.secret()
        png = httpx.get(done.output, timeout=10)

    assert done.status == "succeeded" and done.error is None
    assert done.output == f"{standin.url}/delivery/{created.id}/output.png"
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(png.content)).size == (model.WIDTH, model.HEIGHT)
    assert secret.key == standin.store.webhook_secret

    assert [hook.payload["status"] for hook in receiver.hooks] == ["processing", "succeeded"]
    for hook in receiver.hooks:
        Webhooks.validate(headers=hook.headers, body=hook.body, secret=secret, tolerance=300)
        assert standardwebhooks.Webhook(secret.key).verify(hook.body, hook.headers)["id"] == created.id


def test_given_an_angle_output_when_the_client_runs_a_colour_job_on_its_url_then_the_car_turns_red(live, receiver):
    photo = receiver.image_url("car.jpg", car_photo())
    with live() as standin:
        client = standin.client()
        angle = client.predictions.create(model="google/nano-banana", input={"prompt": angle_prompt(), "image_input": [photo]})
        assert standin.store.wait_idle(10)
        angle_url = client.predictions.get(angle.id).output
        colour = client.predictions.create(
            model="google/nano-banana",
            input={"prompt": colour_prompt("Red #C00000 (metallic)"), "image_input": [angle_url]},
        )
        assert standin.store.wait_idle(10)
        result = client.predictions.get(colour.id)
        data = httpx.get(result.output, timeout=10).content
    counts = colour_counts(data)
    assert result.status == "succeeded" and counts["red"] > 0.05 and counts["blue"] < counts["red"] / 20


def test_given_the_ratelimit_fault_when_the_client_creates_then_it_raises_replicate_error_429_at_once(live):
    with live(faults={"ratelimit": 1.0}) as standin:
        started = time.monotonic()
        with pytest.raises(ReplicateError) as caught:
            standin.client().predictions.create(model="google/nano-banana", input={"prompt": "x"})
        elapsed = time.monotonic() - started
    assert caught.value.status == 429 and "throttled" in (caught.value.detail or "")
    assert elapsed < 2  # the client does not retry a POST


def test_given_an_unknown_model_and_bad_input_when_the_client_creates_then_404_and_422(live):
    with live() as standin:
        client = standin.client()
        with pytest.raises(ReplicateError) as missing:
            client.predictions.create(model="acme/nothing", input={"prompt": "x"})
        with pytest.raises(ReplicateError) as invalid:
            client.predictions.create(model="google/nano-banana", input={"image_input": ["http://x/y.jpg"]})
    assert missing.value.status == 404 and missing.value.detail
    assert invalid.value.status == 422 and invalid.value.title == "Input validation failed"
    assert "prompt is required" in (invalid.value.detail or "")


def test_given_five_predictions_when_the_client_pages_with_next_then_it_sees_all_newest_first(live):
    with live(page_size=2, latency_seconds=30) as standin:
        client = standin.client()
        ids = [client.predictions.create(model="google/nano-banana", input={"prompt": f"{i}"}).id for i in range(5)]
        seen: list[str] = []
        page = client.predictions.list()
        pages = 1
        seen.extend(p.id for p in page.results)
        while page.next:
            page = client.predictions.list(page.next)
            seen.extend(p.id for p in page.results)
            pages += 1
    assert seen == list(reversed(ids)) and pages == 3
    assert page.previous is not None


def test_given_a_running_prediction_when_the_client_cancels_then_canceled_and_the_webhook_follows(live, receiver):
    with live(latency_seconds=5) as standin:
        client = standin.client()
        created = client.predictions.create(
            model="google/nano-banana",
            input={"prompt": "x"},
            webhook=receiver.hook_url,
            webhook_events_filter=["completed"],
        )
        canceled = client.predictions.cancel(created.id)
        assert standin.store.wait_idle(5)
    assert canceled.status == "canceled"
    assert [hook.payload["status"] for hook in receiver.hooks] == ["canceled"]


def test_given_a_receiver_answering_500_when_completed_is_sent_then_it_is_retried_and_delivered(live, receiver):
    receiver.statuses = [200, 500]
    with live() as standin:
        client = standin.client()
        client.predictions.create(
            model="google/nano-banana",
            input={"prompt": "x"},
            webhook=receiver.hook_url,
            webhook_events_filter=["start", "completed"],
        )
        assert standin.store.wait_idle(10)
    statuses = [hook.payload["status"] for hook in receiver.hooks]
    assert statuses == ["processing", "succeeded", "succeeded"]
    assert receiver.hooks[1].headers["webhook-id"] == receiver.hooks[2].headers["webhook-id"]


def test_given_a_webhook_url_nobody_listens_on_when_completed_then_retries_end_and_get_still_works(live):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    with live(webhook_retry_seconds=0.3) as standin:
        client = standin.client()
        created = client.predictions.create(
            model="google/nano-banana",
            input={"prompt": "x"},
            webhook=f"http://127.0.0.1:{dead_port}/hook",
            webhook_events_filter=["completed"],
        )
        assert standin.store.wait_idle(10)
        assert client.predictions.get(created.id).status == "succeeded"
        attempts = standin.store.list_webhook_deliveries()
    assert len(attempts) >= 2 and all(a["error"] and a["status_code"] is None for a in attempts)


def test_given_an_api_token_when_the_client_uses_a_wrong_one_then_401_and_the_right_one_works(live):
    with live(api_token="r8_right", latency_seconds=5) as standin:
        with pytest.raises(ReplicateError) as caught:
            standin.client("r8_wrong").predictions.list()
        page = standin.client("r8_right").predictions.list()
    assert caught.value.status == 401 and page.results == []


def test_given_the_module_entry_point_when_started_then_it_serves_on_standin_port(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "STANDIN_PORT": str(port),
        "STANDIN_LATENCY_SECONDS": "0",
        "STANDIN_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "PYTHONPATH": str(ROOT),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "replicate_standin"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "python -m replicate_standin did not start"
            time.sleep(0.1)
        client = replicate.Client(api_token="x", base_url=f"http://127.0.0.1:{port}")
        assert client.webhooks.default.secret().key == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        created = client.predictions.create(model="google/nano-banana", input={"prompt": "angle: front", "output_format": "png"})
        for _ in range(100):
            done = client.predictions.get(created.id)
            if done.status == "succeeded":
                break
            time.sleep(0.05)
        assert done.output == f"http://127.0.0.1:{port}/delivery/{created.id}/output.png"
    finally:
        process.terminate()
        process.wait(10)


def test_given_a_create_burst_when_the_official_client_creates_beyond_it_then_replicate_error_429_and_retry_after(live):
    with live(create_limit_per_minute=6, create_burst=3, latency_seconds=5) as standin:
        client = standin.client("r8_burst")
        created = [client.predictions.create(model="google/nano-banana", input={"prompt": f"{i}"}) for i in range(3)]
        with pytest.raises(ReplicateError) as caught:
            client.predictions.create(model="google/nano-banana", input={"prompt": "one too many"})
        raw = httpx.post(
            f"{standin.url}/v1/models/google/nano-banana/predictions",
            json={"input": {"prompt": "raw"}},
            headers={"Authorization": "Bearer r8_burst"},
            timeout=10,
        )
        other_token = standin.client("r8_other").predictions.create(model="google/nano-banana", input={"prompt": "x"})
        limits = standin.store.fault_report()["rate_limits"]["create"]
    assert all(p.status == "starting" for p in created) and other_token.status == "starting"
    assert caught.value.status == 429
    assert (caught.value.detail or "").startswith("Request was throttled. Your rate limit resets in ~")
    assert raw.status_code == 429
    assert 1 <= int(raw.headers["Retry-After"]) <= 10  # 6/min: a token every 10 s
    assert raw.json()["detail"] == f"Request was throttled. Your rate limit resets in ~{raw.headers['Retry-After']}s."
    assert (limits["created"], limits["throttled"]) == (4, 2)


def test_given_a_create_limit_of_zero_when_the_official_client_creates_many_at_once_then_none_is_throttled(live):
    with live(create_limit_per_minute=0, latency_seconds=5) as standin:
        client = standin.client()
        statuses = {client.predictions.create(model="google/nano-banana", input={"prompt": f"{i}"}).status for i in range(130)}
        limits = standin.store.fault_report()["rate_limits"]["create"]
    assert statuses == {"starting"}
    assert (limits["created"], limits["throttled"]) == (130, 0)
