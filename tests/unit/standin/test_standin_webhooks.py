"""Webhook delivery: order, signatures, retries and the webhook faults (no sockets)."""

from __future__ import annotations

import pytest
import standardwebhooks
from replicate.webhook import Webhooks, WebhookSigningSecret
from standin_testkit import HOOK, FakeNetwork, create, standin

pytestmark = pytest.mark.unit

START_COMPLETED = {"webhook": HOOK, "webhook_events_filter": ["start", "completed"]}


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork()


def test_given_start_and_completed_when_a_prediction_runs_then_start_then_completed_arrive_signed(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: front", [], **START_COMPLETED).json()
        assert store.wait_idle(5)
        secret = client.get("/v1/webhooks/default/secret").json()["key"]
    hooks = network.hooks_for(created["id"])
    assert [h.payload["status"] for h in hooks] == ["processing", "succeeded"]
    assert hooks[0].payload["started_at"] and hooks[0].payload["output"] is None
    assert hooks[1].payload["output"].endswith(f"/delivery/{created['id']}/output.png")
    assert hooks[0].webhook_id != hooks[1].webhook_id
    for hook in hooks:
        assert hook.headers["content-type"] == "application/json"
        assert hook.headers["webhook-signature"].startswith("v1,")
        Webhooks.validate(headers=hook.headers, body=hook.body, secret=WebhookSigningSecret(key=secret), tolerance=300)
        assert standardwebhooks.Webhook(secret).verify(hook.body, hook.headers)["id"] == created["id"]


def test_given_no_filter_when_a_prediction_runs_then_every_event_is_sent_in_order(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: front", [], webhook=HOOK).json()
        assert store.wait_idle(5)
        events = [d["event"] for d in store.list_webhook_deliveries()]
    assert events == ["start", "logs", "output", "completed"]
    statuses = [h.payload["status"] for h in network.hooks_for(created["id"])]
    assert statuses == ["processing", "processing", "processing", "succeeded"]


def test_given_only_completed_in_the_filter_when_a_prediction_runs_then_only_completed_is_sent(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"]).json()
        assert store.wait_idle(5)
    assert [h.payload["status"] for h in network.hooks_for(created["id"])] == ["succeeded"]


def test_given_no_webhook_when_a_prediction_runs_then_nothing_is_posted(network: FakeNetwork):
    with standin(network) as (client, store):
        create(client, "angle: x", [])
        assert store.wait_idle(5)
        assert store.list_webhook_deliveries() == []
    assert network.webhooks == []


def test_given_a_receiver_answering_500_when_completed_is_sent_then_it_is_retried_with_the_same_id(
    network: FakeNetwork,
):
    network.hook_statuses = [200, 500, 503]  # start ok; completed fails twice, then succeeds
    with standin(network, webhook_retry_initial_seconds=0.05) as (client, store):
        created = create(client, "angle: x", [], **START_COMPLETED).json()
        assert store.wait_idle(5)
        deliveries = [d for d in store.list_webhook_deliveries() if d["event"] == "completed"]
    hooks = network.hooks_for(created["id"])
    assert [h.payload["status"] for h in hooks] == ["processing", "succeeded", "succeeded", "succeeded"]
    assert len({h.webhook_id for h in hooks[1:]}) == 1
    assert [(d["attempt"], d["status_code"], d["delivered"]) for d in deliveries] == [
        (1, 500, False),
        (2, 503, False),
        (3, 200, True),
    ]
    # Backoff doubles: 0.05 s then 0.1 s.
    assert hooks[3].received_at - hooks[2].received_at >= 0.09


def test_given_a_failing_start_webhook_when_sent_then_it_is_not_retried(network: FakeNetwork):
    network.hook_statuses = [500]
    with standin(network) as (client, store):
        created = create(client, "angle: x", [], **START_COMPLETED).json()
        assert store.wait_idle(5)
    assert [h.payload["status"] for h in network.hooks_for(created["id"])] == ["processing", "succeeded"]


def test_given_a_receiver_that_never_succeeds_when_the_budget_runs_out_then_retries_stop(network: FakeNetwork):
    network.hook_statuses = [500] * 50
    with standin(network, webhook_retry_initial_seconds=0.05, webhook_retry_seconds=0.5) as (client, store):
        create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"])
        assert store.wait_idle(5)
        attempts = [d["attempt"] for d in store.list_webhook_deliveries()]
    # 0.05 + 0.1 + 0.2 = 0.35 s of waiting fits the 0.5 s budget, the next 0.4 s does not.
    assert attempts == [1, 2, 3, 4]


def test_given_the_duplicate_fault_when_completed_then_the_same_message_is_delivered_twice(network: FakeNetwork):
    with standin(network, faults={"duplicate": 1.0}) as (client, store):
        created = create(client, "angle: x", [], **START_COMPLETED).json()
        assert store.wait_idle(5)
        secret = store.webhook_secret
    hooks = network.hooks_for(created["id"])
    assert [h.payload["status"] for h in hooks] == ["processing", "succeeded", "succeeded"]
    assert hooks[1].webhook_id == hooks[2].webhook_id
    assert hooks[1].body == hooks[2].body
    for hook in hooks[1:]:
        standardwebhooks.Webhook(secret).verify(hook.body, hook.headers)


def test_given_the_drop_fault_when_completed_then_no_completed_webhook_but_get_shows_the_result(network: FakeNetwork):
    with standin(network, faults={"drop": 1.0}) as (client, store):
        created = create(client, "angle: x", [], **START_COMPLETED).json()
        assert store.wait_idle(5)
        body = client.get(f"/v1/predictions/{created['id']}").json()
        dropped = [d for d in store.list_webhook_deliveries() if d["dropped"]]
    assert [h.payload["status"] for h in network.hooks_for(created["id"])] == ["processing"]
    assert body["status"] == "succeeded" and body["output"]
    assert [d["event"] for d in dropped] == ["completed"]


def test_given_the_reorder_fault_when_a_prediction_runs_then_completed_arrives_before_start(network: FakeNetwork):
    with standin(network, faults={"reorder": 1.0}) as (client, store):
        created = create(client, "angle: x", [], **START_COMPLETED).json()
        assert store.wait_idle(5)
    hooks = network.hooks_for(created["id"])
    assert [h.payload["status"] for h in hooks] == ["succeeded", "processing"]
    assert hooks[1].payload["output"] is None  # the late start carries the stale state


def test_given_two_faults_together_when_a_prediction_fails_then_the_failure_is_delivered_twice(network: FakeNetwork):
    with standin(network, faults={"fail": 1.0, "duplicate": 1.0}) as (client, store):
        created = create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"]).json()
        assert store.wait_idle(5)
    assert [h.payload["status"] for h in network.hooks_for(created["id"])] == ["failed", "failed"]
