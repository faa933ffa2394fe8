"""The dealer's control over a batch through the real API, the real ASL in moto and the stand-in
over HTTP: honest outcome statuses and counts, retry, regenerate, cancel."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.e2e_client import BASE, E2EClient, jpeg_bytes
from tests.support.inprocess_stack import dealer_on
from tests.support.stack_state import Standin, cell_of

pytestmark = pytest.mark.integration

ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic"]


@pytest.fixture
def client(stack: Any) -> Iterator[E2EClient]:
    with dealer_on(stack, "control-dealer") as dealer:
        yield dealer


def _standin(stack: Any) -> Standin:
    return Standin(stack.standin_url, stack.secrets.replicate_api_token)


def _batch(client: E2EClient, angles: list[str] = ANGLES, colors: list[str] = COLORS) -> str:
    sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
    return str(client.create_batch(sources, angles, colors)["batchId"])


def _cells(snapshot: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(c["angleKey"], c["colorKey"]): c for c in snapshot["cells"]}


def _retry(client: E2EClient, batch_id: str, cells: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    answer = client.call("POST", f"{BASE}/batch/{batch_id}/retry", json={} if cells is None else {"cells": cells})
    assert answer.status_code == 202, answer.text
    return dict(answer.json())


def _wait_running_then_done(client: E2EClient, batch_id: str) -> dict[str, Any]:
    return client.wait_completed(batch_id, timeout=90)


def test_given_every_prediction_failing_when_the_batch_ends_then_it_is_failed_with_counts_not_completed(
    stack: Any, client: E2EClient
) -> None:
    stack.standin.set_faults({"fail": 1.0})
    batch_id = _batch(client)

    snapshot = client.wait_completed(batch_id, timeout=60)

    assert snapshot["status"] == "failed"
    assert snapshot["counts"] == {"queued": 0, "processing": 0, "completed": 0, "failed": 6, "canceled": 0}


def test_given_a_failed_batch_when_every_failed_cell_is_retried_then_it_completes_with_second_attempts(
    stack: Any, client: E2EClient
) -> None:
    stack.standin.set_faults({"fail": 1.0})
    batch_id = _batch(client)
    client.wait_completed(batch_id, timeout=60)
    stack.standin.set_faults({})

    answer = _retry(client, batch_id)
    snapshot = _wait_running_then_done(client, batch_id)

    assert len(answer["retried"]) == 6
    assert snapshot["status"] == "completed"
    assert snapshot["counts"]["completed"] == 6 and snapshot["counts"]["failed"] == 0
    assert {c["attempt"] for c in snapshot["cells"]} == {2}


def test_given_a_completed_colour_cell_when_regenerated_then_it_gets_a_new_image_and_the_gallery_keeps_both(
    stack: Any, client: E2EClient
) -> None:
    batch_id = _batch(client, ["front_0"], ["red_metallic"])
    first = _cells(client.wait_completed(batch_id))[("front_0", "red_metallic")]
    before = len(_standin(stack).predictions())

    answer = _retry(client, batch_id, [{"angleKey": "front_0", "colorKey": "red_metallic"}])
    snapshot = _wait_running_then_done(client, batch_id)

    again = _cells(snapshot)[("front_0", "red_metallic")]
    assert answer["retried"] == [{"angleKey": "front_0", "colorKey": "red_metallic"}]
    assert snapshot["status"] == "completed" and again["attempt"] == 2
    assert again["imageUrl"].split("?")[0] != first["imageUrl"].split("?")[0]
    assert _cells(snapshot)[("front_0", None)]["attempt"] == 1  # its angle was not run again
    assert len(_standin(stack).predictions()) == before + 1
    gallery = client.call("GET", "/api/gallery", params={"limit": 100}).json()["items"]
    assert len([g for g in gallery if g["batchId"] == batch_id and g["colorKey"] == "red_metallic"]) == 2
    # The cost counts what Replicate counts: every prediction made for the batch, retries included.
    made = [p for p in _standin(stack).predictions() if cell_of(p)[0] == batch_id]
    assert snapshot["cost"]["predictions"] == len(made) == 3
    assert snapshot["cost"]["billedImages"] == len([p for p in made if p["status"] == "succeeded"]) == 3


def test_given_a_failed_angle_when_retried_then_its_colours_run_again_fed_its_new_output(
    stack: Any, client: E2EClient
) -> None:
    stack.standin.set_faults({"fail": 1.0})
    batch_id = _batch(client, ["front_0"], COLORS)
    client.wait_completed(batch_id, timeout=60)
    stack.standin.set_faults({})

    answer = _retry(client, batch_id, [{"angleKey": "front_0", "colorKey": None}])
    snapshot = _wait_running_then_done(client, batch_id)

    assert sorted((r["angleKey"], r["colorKey"] or "") for r in answer["retried"]) == [
        ("front_0", ""), ("front_0", "blue_metallic"), ("front_0", "red_metallic")]
    assert snapshot["status"] == "completed"
    angle_output = _cells(snapshot)[("front_0", None)]["imageUrl"].split("?")[0].rsplit("/", 2)[-2:]
    fed = [p for p in _standin(stack).predictions() if cell_of(p)[0] == batch_id and cell_of(p)[2]
           and p["status"] == "succeeded"]
    assert len(fed) == 2
    assert all("/".join(angle_output) in p["input"]["image_input"][0] for p in fed)


def test_given_a_cell_still_running_when_retried_then_409_names_it(stack: Any, client: E2EClient) -> None:
    stack.standin.set_faults({"slow": 1.0})
    batch_id = _batch(client, ["front_0"], [])
    answer = client.call("POST", f"{BASE}/batch/{batch_id}/retry", json={"cells": [{"angleKey": "front_0"}]})
    assert answer.status_code == 409 and answer.json()["error"]["field"] == "cells[0]"
    client.wait_completed(batch_id, timeout=60)


@pytest.fixture
def slow_stack(stack: Any) -> Iterator[Any]:
    """Predictions that take 5 s: a cancel finds them in flight at Replicate."""
    settings = stack.standin.settings
    fast, settings.latency_seconds = settings.latency_seconds, 5.0
    yield stack
    settings.latency_seconds = fast


def test_given_a_running_batch_when_canceled_then_everything_stops_and_nothing_is_created_afterwards(
    slow_stack: Any,
) -> None:
    client = E2EClient(slow_stack.base_url, user="control-dealer")
    batch_id = _batch(client)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(c["status"] == "processing" for c in client.snapshot(batch_id)["cells"]):
        time.sleep(0.1)

    answer = client.call("POST", f"{BASE}/batch/{batch_id}/cancel")
    again = client.call("POST", f"{BASE}/batch/{batch_id}/cancel")
    created = [p for p in _standin(slow_stack).predictions() if cell_of(p)[0] == batch_id]
    time.sleep(6)  # past the predictions' latency: a late output would have arrived by now

    assert answer.status_code == 202 and answer.json()["status"] == "canceled" and answer.json()["canceled"] == 6
    assert again.status_code == 202 and again.json()["canceled"] == 0  # harmless
    snapshot = client.snapshot(batch_id)
    assert snapshot["status"] == "canceled"
    assert snapshot["counts"]["canceled"] == 6 and {c["status"] for c in snapshot["cells"]} == {"canceled"}
    after = [p for p in _standin(slow_stack).predictions() if cell_of(p)[0] == batch_id]
    assert len(after) == len(created) == 2  # the two angles were in flight; nothing created afterwards
    assert {p["status"] for p in after} == {"canceled"}  # cancelled at Replicate
    sfn = slow_stack.client("stepfunctions")
    machine = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    runs = [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"].startswith(batch_id)]
    assert runs and {e["status"] for e in runs} == {"ABORTED"}  # every execution of the batch stopped
    client.close()


def test_given_a_finished_batch_when_canceled_then_409_and_it_keeps_its_outcome(stack: Any, client: E2EClient) -> None:
    batch_id = _batch(client, ["front_0"], [])
    client.wait_completed(batch_id)

    answer = client.call("POST", f"{BASE}/batch/{batch_id}/cancel")

    assert answer.status_code == 409 and answer.json()["error"]["field"] == "batchId"
    assert client.snapshot(batch_id)["status"] == "completed"


def test_given_another_dealers_batch_when_retried_or_canceled_then_404(stack: Any, client: E2EClient) -> None:
    batch_id = _batch(client, ["front_0"], [])
    other = E2EClient(stack.base_url, user="someone-else")
    try:
        assert other.call("POST", f"{BASE}/batch/{batch_id}/retry", json={}).status_code == 404
        assert other.call("POST", f"{BASE}/batch/{batch_id}/cancel").status_code == 404
    finally:
        other.close()
    client.wait_completed(batch_id)
