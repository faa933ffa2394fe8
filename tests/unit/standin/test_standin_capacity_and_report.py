"""The stand-in under a burst (bounded processing and downloads) and its read-only
fault report (`GET /_standin/faults`), which the chaos run prints."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from standin_testkit import FAST, HOOK, FakeNetwork, car_photo, create, standin

pytestmark = pytest.mark.unit


class SlowImages(FakeNetwork):
    """Images answer after a short pause; records how many downloads were in flight at once."""

    in_flight: int = 0
    peak: int = 0

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "images.test":
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(0.05)
            self.in_flight -= 1
        return self.handler(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.async_handler)


@pytest.mark.parametrize(("max_running", "max_downloads", "bound"), [(1, 32, 1), (3, 32, 3), (0, 2, 2)])
def test_given_a_burst_of_predictions_when_they_run_then_downloads_stay_bounded_and_all_finish(
    max_running: int, max_downloads: int, bound: int
):
    network = SlowImages()
    image = network.add_image("car.jpg", car_photo(size=(320, 240)))
    with standin(network, max_running=max_running, max_downloads=max_downloads, latency_seconds=0.0) as (client, store):
        ids = [create(client, f"studio photo, angle: {i}", [image], webhook=HOOK,
                      webhook_events_filter=["completed"]).json()["id"] for i in range(8)]
        assert store.wait_idle(30)
        assert {store.get_prediction(i)["status"] for i in ids} == {"succeeded"}
    assert 1 <= network.peak <= bound


def test_given_faults_when_predictions_ran_then_the_report_counts_what_was_drawn_and_what_took_effect():
    network = FakeNetwork()
    image = network.add_image("car.jpg", car_photo(size=(320, 240)))
    with standin(network, faults={"drop": 1.0, "duplicate": 1.0, "slow": 1.0}) as (client, store):
        ids = [create(client, "studio photo", [image], webhook=HOOK).json()["id"] for _ in range(3)]
        assert store.wait_idle(30)
        store.set_faults({"ratelimit": 1.0})
        assert create(client, "studio photo", [image], webhook=HOOK).status_code == 429
        report = client.get("/_standin/faults").json()
    assert report["predictions"] == 3 and report["pending"] == 0
    assert report["drawn"]["drop"] == report["drawn"]["duplicate"] == report["drawn"]["slow"] == 3
    assert report["effective"]["drop"] == 3 and report["effective"]["duplicate"] == 0, "a dropped completion cannot be doubled"
    assert report["effective"]["slow"] == 3 and report["effective"]["ratelimit"] == report["drawn"]["ratelimit"] == 1
    assert set(report["by_prediction"]) == set(ids)
    assert report["deliveries"]["completed_dropped"] == 3 and report["deliveries"]["completed_delivered"] == 0


def test_given_an_api_token_when_the_fault_report_is_read_without_it_then_401():
    network = FakeNetwork()
    with standin(network, api_token="r8_secret") as (client, _):
        assert client.get("/_standin/faults").status_code == 401
        assert client.get("/_standin/faults", headers={"Authorization": "Bearer r8_secret"}).status_code == 200


class SlowReceiver(FakeNetwork):
    """Webhooks answer after a pause (``fail_path`` always 500); records how many deliveries
    were in flight at once."""

    in_flight: int = 0
    peak: int = 0
    pause: float = 0.03
    fail_path: str = "/never"

    async def async_handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "hooks.test":
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            await asyncio.sleep(self.pause)
            self.in_flight -= 1
        response = self.handler(request)  # records the webhook
        return httpx.Response(500) if request.url.path == self.fail_path else response

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.async_handler)


def test_given_a_slow_receiver_when_a_burst_completes_then_deliveries_stay_bounded_and_every_webhook_arrives_in_order():
    network = SlowReceiver()
    with standin(network, latency_seconds=0.0, webhook_senders=3, webhook_queue_size=4) as (client, store):
        ids = [create(client, f"angle: {i}", [], webhook=HOOK).json()["id"] for i in range(25)]
        assert store.wait_idle(30)
        capacity = client.get("/_standin/faults").json()["capacity"]
    assert 2 <= network.peak <= 3, "several senders, never more than webhook_senders"
    assert capacity["webhooks_in_flight"]["peak"] <= 3 and capacity["webhooks_in_flight"]["bound"] == 3
    assert capacity["webhooks_queued"]["peak"] == 4, "the queue filled up to its bound (back-pressure), never beyond"
    assert capacity["webhooks_in_flight"]["total"] == 100 and capacity["webhooks_in_flight"]["in_use"] == 0
    assert len(network.webhooks) == 100, "nothing dropped"
    for prediction_id in ids:
        hooks = network.hooks_for(prediction_id)
        assert [h.payload["status"] for h in hooks] == ["processing", "processing", "processing", "succeeded"]
        assert len({h.webhook_id for h in hooks}) == 4


def test_given_a_receiver_that_keeps_failing_when_its_retries_back_off_then_they_do_not_hold_the_only_sender():
    network = SlowReceiver()
    network.fail_path = "/failing"
    failing = {"webhook": "http://hooks.test/failing", "webhook_events_filter": ["completed"]}
    healthy = {"webhook": HOOK, "webhook_events_filter": ["completed"]}
    with standin(
        network, latency_seconds=0.0, webhook_senders=1, webhook_retry_initial_seconds=0.5, webhook_retry_seconds=2.0
    ) as (client, store):
        create(client, "angle: failing", [], **failing)
        ids = [create(client, f"angle: {i}", [], **healthy).json()["id"] for i in range(10)]
        assert store.wait_idle(30)
        attempts = [d for d in store.list_webhook_deliveries() if d["url"] == failing["webhook"]]
    delivered = [network.hooks_for(i) for i in ids]
    assert all(len(hooks) == 1 for hooks in delivered)
    last_healthy = max(hooks[0].received_at for hooks in delivered)
    failing_hooks = [h for h in network.webhooks if h.payload["input"]["prompt"] == "angle: failing"]
    # The healthy deliveries went out during the failing one's first backoff, not after its retries.
    assert last_healthy < failing_hooks[1].received_at
    assert [a["attempt"] for a in attempts] == [1, 2, 3] and not any(a["delivered"] for a in attempts)


@pytest.mark.parametrize("warm", [True, False], ids=["served warm", "built for a test"])
def test_given_a_stand_in_when_it_starts_then_a_warm_one_has_its_worker_and_clients_ready(warm: bool) -> None:
    """Replicate is always warm: a served stand-in builds its worker loop and HTTP clients (TLS
    contexts, httpcore's import: ~50 ms) before its first prediction, not on its critical path."""
    from starlette.testclient import TestClient

    from replicate_standin.app import create_app
    from replicate_standin.settings import StandinSettings

    app = create_app(StandinSettings(**FAST), transport=FakeNetwork().transport, warm=warm)
    with TestClient(app):
        store = app.state.standin
        assert (store._worker.thread is not None) is warm
        assert sorted(store._worker.http) == (["downloads", "webhooks"] if warm else [])
