"""The colour check through the whole product: the real API, the real ASL in moto, the webhook and
the stand-in over HTTP. Each colour cell of the snapshot carries its check; the stand-in's paint is
"ok", its drift fault's is "off", and regenerating an "off" cell makes it "ok"."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.e2e_client import BASE, E2EClient, jpeg_bytes
from tests.support.inprocess_stack import dealer_on

pytestmark = pytest.mark.integration

ANGLES = ["front_right_45", "rear_180"]
COLORS = ["red_metallic", "white_pearl", "grey_matte"]


@pytest.fixture
def client(stack: Any) -> Iterator[E2EClient]:
    with dealer_on(stack, "colour-dealer") as dealer:
        yield dealer


def _checks(snapshot: dict[str, Any]) -> dict[tuple[str, str | None], Any]:
    return {(c["angleKey"], c["colorKey"]): c["colorCheck"] for c in snapshot["cells"]}


def _batch(client: E2EClient) -> str:
    sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
    return str(client.create_batch(sources, ANGLES, COLORS)["batchId"])


def test_given_a_batch_painted_as_asked_when_it_completes_then_every_colour_cell_is_ok_and_angles_carry_no_check(
    client: E2EClient,
) -> None:
    snapshot = client.wait_completed(_batch(client), timeout=90)

    assert snapshot["status"] == "completed"
    checks = _checks(snapshot)
    for angle in ANGLES:
        assert checks[(angle, None)] is None
        for color in COLORS:
            check = checks[(angle, color)]
            assert check["verdict"] == "ok", (angle, color, check)
            assert check["target"].startswith("#") and check["measured"].startswith("#") and check["deltaE"] <= 10


def test_given_the_drift_fault_when_the_batch_completes_then_every_colour_cell_is_off_and_a_regenerate_makes_it_ok(
    stack: Any, client: E2EClient
) -> None:
    stack.standin.set_faults({"drift": 1.0})
    batch_id = _batch(client)
    snapshot = client.wait_completed(batch_id, timeout=90)
    checks = _checks(snapshot)
    assert {checks[(a, c)]["verdict"] for a in ANGLES for c in COLORS} == {"off"}
    assert all(checks[(a, c)]["deltaE"] > 10 for a in ANGLES for c in COLORS)

    stack.standin.set_faults({})
    answer = client.call("POST", f"{BASE}/batch/{batch_id}/retry",
                         json={"cells": [{"angleKey": "rear_180", "colorKey": "red_metallic"}]})
    assert answer.status_code == 202, answer.text
    regenerated = client.wait_completed(batch_id, timeout=90)
    cell = next(c for c in regenerated["cells"] if (c["angleKey"], c["colorKey"]) == ("rear_180", "red_metallic"))
    assert (cell["attempt"], cell["colorCheck"]["verdict"]) == (2, "ok")
