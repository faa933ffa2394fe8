"""The stand-in under a burst (bounded processing and downloads) and its read-only
fault report (`GET /_standin/faults`), which the chaos run prints."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from standin_testkit import HOOK, FakeNetwork, car_photo, create, standin

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
