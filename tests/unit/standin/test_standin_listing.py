"""GET /v1/predictions: newest first, cursor pagination like Replicate; the store's inspection API."""

from __future__ import annotations

import threading

import pytest
from standin_testkit import HOOK, FakeNetwork, create, standin

pytestmark = pytest.mark.unit


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork()


def test_given_seven_predictions_and_pages_of_three_when_listed_then_pages_run_newest_first(network: FakeNetwork):
    with standin(network, page_size=3, latency_seconds=30) as (client, store):
        ids = [create(client, f"angle: {i}", [], webhook=HOOK).json()["id"] for i in range(7)]
        newest_first = list(reversed(ids))

        first = client.get("/v1/predictions").json()
        assert [p["id"] for p in first["results"]] == newest_first[:3]
        assert first["previous"] is None and first["next"].startswith("http://testserver/v1/predictions?cursor=")
        assert first["results"][0]["input"] == {"prompt": "angle: 6", "output_format": "png", "image_input": []}
        assert first["results"][0]["webhook"] == HOOK

        second = client.get(first["next"]).json()
        assert [p["id"] for p in second["results"]] == newest_first[3:6]
        third = client.get(second["next"]).json()
        assert [p["id"] for p in third["results"]] == newest_first[6:]
        assert third["next"] is None

        back = client.get(third["previous"]).json()
        assert [p["id"] for p in back["results"]] == newest_first[3:6]
        assert [p["id"] for p in client.get(back["previous"]).json()["results"]] == newest_first[:3]
        assert store.list_predictions()[0]["id"] == ids[-1]


def test_given_a_next_cursor_when_new_predictions_arrive_then_the_next_page_does_not_repeat_items(network: FakeNetwork):
    with standin(network, page_size=2, latency_seconds=30) as (client, _store):
        ids = [create(client, f"angle: {i}", []).json()["id"] for i in range(4)]
        first = client.get("/v1/predictions").json()
        create(client, "angle: late", [])
        second = client.get(first["next"]).json()
    assert [p["id"] for p in second["results"]] == [ids[1], ids[0]]


def test_given_101_predictions_when_listed_with_the_default_page_size_then_100_then_1(network: FakeNetwork):
    with standin(network, latency_seconds=60) as (client, _store):
        ids = [create(client, "angle: x", []).json()["id"] for _ in range(101)]
        first = client.get("/v1/predictions").json()
        second = client.get(first["next"]).json()
    assert len(first["results"]) == 100 and first["results"][0]["id"] == ids[-1]
    assert [p["id"] for p in second["results"]] == [ids[0]] and second["next"] is None


def test_given_no_predictions_when_listed_then_an_empty_page(network: FakeNetwork):
    with standin(network) as (client, _store):
        assert client.get("/v1/predictions").json() == {"previous": None, "next": None, "results": []}


def test_given_a_garbage_cursor_when_listed_then_400(network: FakeNetwork):
    with standin(network) as (client, _store):
        response = client.get("/v1/predictions", params={"cursor": "%%%"})
    assert response.status_code == 400 and response.json()["detail"]


def test_given_background_work_when_wait_idle_is_called_then_it_returns_only_after_the_final_webhook(
    network: FakeNetwork,
):
    with standin(network, latency_seconds=0.2) as (client, store):
        create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"])
        assert store.pending >= 1
        assert store.wait_idle(0.05) is False
        assert store.wait_idle(5) is True
        assert store.pending == 0
    assert len(network.webhooks) == 1


def test_given_a_store_when_inspected_from_another_thread_then_it_sees_the_same_predictions(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: x", []).json()
        seen: list[str] = []
        worker = threading.Thread(target=lambda: seen.extend(p["id"] for p in store.list_predictions()))
        worker.start()
        worker.join()
        assert store.get_prediction(created["id"])["id"] == created["id"]
        assert store.get_prediction("nope") is None
    assert seen == [created["id"]]


def test_given_the_app_shuts_down_when_work_is_pending_then_close_abandons_it_and_reports_idle(network: FakeNetwork):
    with standin(network, latency_seconds=30) as (client, store):
        create(client, "angle: x", [], webhook=HOOK)
    assert store.pending == 0 and store.wait_idle(0.1)
    assert store.list_predictions()[0]["status"] == "processing"
