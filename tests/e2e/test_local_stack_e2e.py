"""The running local stack over real HTTP and WebSocket, as the web app and CLI use it."""

from __future__ import annotations

import httpx
import pytest

from tests.support.e2e_client import E2EClient, jpeg_bytes, terminal_updates
from tests.support.stack_process import running_stack

pytestmark = pytest.mark.e2e
ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic"]


@pytest.fixture
def client(stack_url):
    client = E2EClient(stack_url, user="dealer-e2e")
    yield client
    client.close()


def test_given_scenario_a_when_run_then_six_images_arrive_live_and_the_batch_completes_once(client):
    listener = client.listen()
    sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
    created = client.create_batch(sources, ANGLES, COLORS)
    batch_id = created["batchId"]
    assert created["totalJobs"] == 6 and len(created["cells"]) == 6
    listener.wait_for(lambda _: len(listener.of_batch(batch_id, "marketplaceBatchCompleted")) == 1, timeout=60)
    messages = listener.of_batch(batch_id)
    assert messages[0]["type"] == "marketplaceBatchCreated"
    assert messages[0]["data"] == {"batchId": batch_id, "totalJobs": 6, "angles": ANGLES, "colors": COLORS}
    finals = terminal_updates(messages)
    assert finals == {(a, c): ["completed"] for a in ANGLES for c in [None, *COLORS]}
    order = [(m["data"]["result"]["angleKey"], m["data"]["result"]["colorKey"]) for m in messages
             if m["type"] == "marketplaceJobUpdated" and m["data"]["result"]["status"] == "completed"]
    for angle in ANGLES:
        assert order.index((angle, None)) < min(order.index((angle, c)) for c in COLORS)
    assert messages[-1]["type"] == "marketplaceBatchCompleted"
    snapshot = client.snapshot(batch_id)
    assert snapshot["status"] == "completed" and snapshot["completedJobs"] == 6
    for cell in snapshot["cells"]:
        image = httpx.get(cell["imageUrl"], timeout=10)
        assert image.status_code == 200 and image.content[:8] == b"\x89PNG\r\n\x1a\n"
    gallery = client.call("GET", "/api/gallery").json()["items"]
    assert len([i for i in gallery if i["batchId"] == batch_id]) == 6
    listener.close()


def test_given_scenario_b_when_colourised_later_then_four_colour_cells_run_and_the_batch_completes_again(client):
    listener = client.listen()
    sources = client.upload([jpeg_bytes(3), jpeg_bytes(4)])
    batch_id = client.create_batch(sources, ANGLES, COLORS, auto=False)["batchId"]
    first = client.wait_completed(batch_id)
    assert [(c["type"], c["status"]) for c in first["cells"]] == [("angle", "completed")] * 2
    answer = client.call("POST", f"/api/car/marketplace/batch/{batch_id}/colorize", json={"colors": COLORS})
    assert answer.status_code == 202 and answer.json()["createdJobs"] == 4
    listener.wait_for(lambda _: len(listener.of_batch(batch_id, "marketplaceBatchCompleted")) == 2, timeout=60)
    final = client.snapshot(batch_id)
    assert final["status"] == "completed" and final["totalJobs"] == 6 and final["completedJobs"] == 6
    again = client.call("POST", f"/api/car/marketplace/batch/{batch_id}/colorize", json={"colors": COLORS[:1]})
    assert again.status_code == 202 and again.json()["createdJobs"] == 0
    listener.close()


def test_given_a_late_subscriber_when_it_subscribes_then_it_gets_the_snapshot_then_the_rest(client):
    sources = client.upload([jpeg_bytes(5)])
    batch_id = client.create_batch(sources, ["front_0"], COLORS)["batchId"]
    client.wait_completed(batch_id)
    # Connected after the batch finished: only the snapshot can tell this client anything.
    late = client.listen()
    late.send({"action": "subscribe", "batchId": batch_id})
    late.wait_for(lambda _: len(late.of_batch(batch_id, "marketplaceJobUpdated")) >= 3, timeout=30)
    cells = {(m["data"]["result"]["angleKey"], m["data"]["result"]["colorKey"]): m["data"]["result"]
             for m in late.of_batch(batch_id, "marketplaceJobUpdated")}
    assert set(cells) == {("front_0", None), ("front_0", "red_metallic"), ("front_0", "blue_metallic")}
    assert all(c["status"] == "completed" and c["imageUrl"] and c["thumbUrl"] for c in cells.values())
    late.close()


def test_given_a_subscriber_mid_batch_when_it_subscribes_then_it_catches_up_and_follows_to_the_end(client):
    sources = client.upload([jpeg_bytes(9)])
    batch_id = client.create_batch(sources, ["front_0", "side_90"], COLORS)["batchId"]
    late = client.listen()
    late.send({"action": "subscribe", "batchId": batch_id})
    late.wait_for(lambda _: bool(late.of_batch(batch_id, "marketplaceBatchCompleted")), timeout=60)
    last: dict[tuple[str, str | None], str] = {}
    for m in late.of_batch(batch_id, "marketplaceJobUpdated"):
        result = m["data"]["result"]
        last[(result["angleKey"], result["colorKey"])] = result["status"]
    assert len(last) == 6 and set(last.values()) == {"completed"}
    late.close()


def test_given_a_second_user_when_probing_the_first_users_batch_then_nothing_is_visible(client, stack_url):
    sources = client.upload([jpeg_bytes(6)])
    batch_id = client.create_batch(sources, ["front_0"], [])["batchId"]
    intruder = E2EClient(stack_url, user="someone-else")
    assert intruder.call("GET", f"/api/car/marketplace/batch/{batch_id}").status_code == 404
    colorize = intruder.call("POST", f"/api/car/marketplace/batch/{batch_id}/colorize", json={"colors": COLORS})
    assert colorize.status_code == 404
    spy = intruder.listen()
    spy.send({"action": "subscribe", "batchId": batch_id})
    client.wait_completed(batch_id)
    assert spy.of_batch(batch_id) == []
    assert all(i["batchId"] != batch_id for i in intruder.call("GET", "/api/gallery").json()["items"])
    spy.close()
    intruder.close()


def test_given_a_forged_ticket_when_connecting_then_the_handshake_is_refused(client, stack):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    with pytest.raises(InvalidStatus), connect(f"{stack['ws_url']}?ticket=eyJzdWIiOiJ4IiwiZXhwIjo5OTk5OTk5OTk5fQ.forged",
                                                open_timeout=5):
        pass


@pytest.mark.timeout(240)
def test_given_faults_when_a_batch_runs_then_every_cell_ends_terminal_exactly_once():
    env = {"STANDIN_LATENCY_SECONDS": "0.2", "STANDIN_SEED": "7", "LOCAL_SCHEDULE_SECONDS": "1",
           "RECONCILE_AFTER_SECONDS": "2",
           "STANDIN_FAULTS": "fail=0.15,duplicate=0.3,drop=0.2,reorder=0.3,ratelimit=0.1"}
    with running_stack(env) as urls:
        client = E2EClient(urls["base_url"], user="dealer-faults")
        listener = client.listen()
        sources = client.upload([jpeg_bytes(7), jpeg_bytes(8)])
        angles = ["front_0", "front_right_45", "side_90", "rear_180"]
        colors = ["red_metallic", "blue_metallic", "black_gloss"]
        batch_id = client.create_batch(sources, angles, colors)["batchId"]
        listener.wait_for(lambda _: len(listener.of_batch(batch_id, "marketplaceBatchCompleted")) >= 1, timeout=180)
        finals = terminal_updates(listener.of_batch(batch_id))
        assert len(finals) == 16
        assert all(len(statuses) == 1 for statuses in finals.values()), finals
        snapshot = client.snapshot(batch_id)
        assert snapshot["completedJobs"] + snapshot["failedJobs"] == 16
        assert {(c["angleKey"], c["colorKey"]): [c["status"]] for c in snapshot["cells"]} == finals
        assert len(listener.of_batch(batch_id, "marketplaceBatchCompleted")) == 1
        listener.close()
        client.close()
