"""WebSocket: tickets at $connect, owner-bound connections, subscribe catch-up, 410 cleanup."""

from __future__ import annotations

import json
import time

import pytest

from tests.support.lambda_events import FakeContext, answer_json, load_function, ws_event

pytestmark = pytest.mark.unit


@pytest.fixture
def ws(ws_posts):
    module = load_function("websocket")

    def call(route: str, connection_id: str, body=None, query=None):
        return module.lambda_handler(ws_event(route, connection_id, body, query), FakeContext())

    return call


@pytest.fixture
def batch_of(aws, monkeypatch):
    """Creates a batch for an owner straight through the domain (the API is tested elsewhere)."""
    monkeypatch.setattr("marketplace.source_urls._resolve", lambda host: ["93.184.216.34"])
    from marketplace.batches import create_batch
    from marketplace.models import CreateBatchRequest

    def make(owner: str) -> str:
        request = CreateBatchRequest(sourceImageUrls=["https://images.example.com/a.jpg"], angles=["front_0"],
                                     colors=["red_metallic"])
        return create_batch(owner, request)["batchId"]

    return make


def connect(ws, connection_id: str, owner: str) -> dict:
    from marketplace.tickets import issue_ticket

    ticket, _ = issue_ticket(owner)
    return ws("$connect", connection_id, query={"ticket": ticket})


def test_given_a_valid_ticket_when_connecting_then_the_connection_is_stored_under_its_owner(ws):
    from marketplace.repository import get_repository

    assert connect(ws, "c1", "dealer-1")["statusCode"] == 200
    assert get_repository().list_owner_connections("dealer-1") == ["c1"]
    assert ws("$disconnect", "c1")["statusCode"] == 200
    assert get_repository().list_owner_connections("dealer-1") == []


@pytest.mark.parametrize("ticket", [None, "", "garbage", "a.b", "x" * 5000])
def test_given_a_missing_or_forged_ticket_when_connecting_then_401(ws, ticket):
    query = {"ticket": ticket} if ticket is not None else None
    answer = ws("$connect", "c1", query=query)
    assert answer["statusCode"] == 401


def test_given_an_expired_ticket_when_connecting_then_401(ws):
    from marketplace.tickets import issue_ticket

    ticket, _ = issue_ticket("dealer-1", now=time.time() - 120)
    assert ws("$connect", "c1", query={"ticket": ticket})["statusCode"] == 401


def test_given_a_ticket_signed_with_another_key_when_connecting_then_401(ws, monkeypatch):
    from marketplace.tickets import issue_ticket

    monkeypatch.setenv("TICKET_SECRET", "another-key")
    forged, _ = issue_ticket("dealer-1")
    monkeypatch.setenv("TICKET_SECRET", "test-ticket-secret-0123456789")
    assert ws("$connect", "c1", query={"ticket": forged})["statusCode"] == 401


def test_given_a_ticket_whose_owner_was_edited_when_connecting_then_401(ws):
    import base64

    from marketplace.tickets import issue_ticket

    ticket, _ = issue_ticket("dealer-1")
    body, signature = ticket.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims["sub"] = "dealer-2"
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert ws("$connect", "c1", query={"ticket": f"{edited}.{signature}"})["statusCode"] == 401


def test_given_a_late_subscriber_when_subscribing_then_it_gets_the_snapshot_only(ws, ws_posts, batch_of):
    batch_id = batch_of("dealer-1")
    connect(ws, "late", "dealer-1")
    connect(ws, "other-tab", "dealer-1")
    answer = ws("subscribe", "late", body=json.dumps({"action": "subscribe", "batchId": batch_id}))
    assert answer["statusCode"] == 200
    got = ws_posts.messages("late", "marketplaceJobUpdated")
    assert [(m["data"]["result"]["angleKey"], m["data"]["result"]["colorKey"]) for m in got] == [
        ("front_0", None), ("front_0", "red_metallic")]
    assert all(m["data"]["batchId"] == batch_id and m["data"]["result"]["status"] == "queued" for m in got)
    assert ws_posts.messages("other-tab", "marketplaceJobUpdated") == []


def test_given_another_users_batch_when_subscribing_then_refused_and_nothing_sent(ws, ws_posts, batch_of):
    batch_id = batch_of("dealer-1")
    connect(ws, "intruder", "dealer-2")
    answer = ws("subscribe", "intruder", body=json.dumps({"action": "subscribe", "batchId": batch_id}))
    assert answer["statusCode"] == 404
    assert ws_posts.messages("intruder") == []


def test_given_two_users_when_a_batch_is_created_then_only_its_owner_hears_of_it(ws, ws_posts, batch_of):
    connect(ws, "mine", "dealer-1")
    connect(ws, "theirs", "dealer-2")
    batch_of("dealer-1")
    assert [m["type"] for m in ws_posts.messages("mine")] == ["marketplaceBatchCreated"]
    assert ws_posts.messages("theirs") == []


@pytest.mark.parametrize("body", [None, "not json", "[]", json.dumps({"action": "subscribe"}),
                                  json.dumps({"action": "subscribe", "batchId": "../../etc"}), "x" * 10000])
def test_given_a_malformed_subscribe_when_received_then_400(ws, body):
    connect(ws, "c1", "dealer-1")
    assert ws("subscribe", "c1", body=body)["statusCode"] == 400


def test_given_an_unregistered_connection_when_subscribing_then_403(ws):
    answer = ws("subscribe", "ghost", body=json.dumps({"action": "subscribe", "batchId": "abc"}))
    assert answer["statusCode"] == 403


def test_given_an_unknown_action_when_received_then_400_names_subscribe(ws):
    answer = ws("$default", "c1", body=json.dumps({"action": "dance"}))
    assert answer["statusCode"] == 400 and "subscribe" in answer_json(answer)["message"]


def test_given_a_gone_connection_when_pushing_then_it_is_deleted_and_others_still_get_it(ws, ws_posts):
    from marketplace.notifier import get_notifier
    from marketplace.repository import get_repository

    connect(ws, "alive", "dealer-1")
    connect(ws, "dead", "dealer-1")
    ws_posts.gone.add("dead")
    delivered = get_notifier().push_to_owner("dealer-1", "marketplaceBatchCompleted", {"batchId": "b"})
    assert delivered == 1
    assert get_repository().list_owner_connections("dealer-1") == ["alive"]
    assert get_repository().get_connection_owner("dead") is None
