"""Reconcile: cells whose webhook never came are resolved by polling, through the same path."""

from __future__ import annotations

from typing import Any

import pytest
from workflow_testkit import World, data_uri, make_batch, png_bytes, start

from marketplace import keys, predictions
from marketplace.config import get_settings
from marketplace.errors import ReplicateUnavailable
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

reconcile = load_function("reconcile")


@pytest.fixture
def replicate_state(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    state: dict[str, Any] = {}

    def get_prediction(prediction_id: str) -> dict[str, Any]:
        answer = state[prediction_id]
        if isinstance(answer, Exception):
            raise answer
        return {"id": prediction_id, **answer}

    monkeypatch.setattr(predictions, "get_prediction", get_prediction)
    monkeypatch.setenv("RECONCILE_AFTER_SECONDS", "0")
    get_settings.cache_clear()
    return state


def sweep() -> dict[str, Any]:
    return reconcile.lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, FakeLambdaContext())


def test_given_a_dropped_success_webhook_when_swept_then_the_cell_completes_like_a_webhook_would(
    world: World, replicate_state: dict[str, Any]
) -> None:
    world.connect()
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    replicate_state["p-1"] = {"status": "succeeded", "output": data_uri(png_bytes())}

    answer = sweep()

    assert answer == {"checked": 1, "outcomes": {"completed": 1}}
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert len(world.assets()) == 1
    assert world.sfn.successes[0][0] == "tok-1"
    assert sweep()["checked"] == 0  # no longer pending


def test_given_a_dropped_webhook_when_swept_then_the_cell_the_index_found_is_handled_without_reading_it_again(
    world: World, replicate_state: dict[str, Any]
) -> None:
    make_batch(world.repo, colors=())
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    replicate_state["p-1"] = {"status": "succeeded", "output": data_uri(png_bytes())}

    with world.dynamodb_calls() as calls:
        assert sweep()["outcomes"] == {"completed": 1}

    operations = [name for name, _ in calls]
    cell_reads = [p for name, p in calls if name == "GetItem" and p["Key"]["SK"]["S"].startswith(keys.CELL_PREFIX)]
    assert operations.count("Query") >= 1 and not cell_reads  # no pointer, no re-read (a GetItem is the push's connections row)


def test_given_a_prediction_still_running_when_swept_then_the_cell_is_touched_for_the_next_sweep(
    world: World, replicate_state: dict[str, Any]
) -> None:
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    before = world.cell("b-1", "front_0")["GSI1SK"]
    replicate_state["p-1"] = {"status": "processing"}

    answer = sweep()

    assert answer["outcomes"] == {"running": 1}
    cell = world.cell("b-1", "front_0")
    assert cell["status"] == "processing"  # as RunPrediction recorded it
    assert cell["GSI1SK"] > before
    assert world.sfn.heartbeats == []


def test_given_one_poll_failing_when_swept_then_the_other_cells_are_still_resolved(
    world: World, replicate_state: dict[str, Any]
) -> None:
    make_batch(world.repo, colors=("red_metallic",))
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    start(world.repo, "b-1", "front_0", "red_metallic", "p-2", "tok-2")
    replicate_state["p-1"] = ReplicateUnavailable("down")
    replicate_state["p-2"] = {"status": "failed", "error": "out of memory"}

    answer = sweep()

    assert answer["outcomes"] == {"error": 1, "failed": 1}
    assert world.cell("b-1", "front_0")["status"] == "processing"
    assert world.cell("b-1", "front_0", "red_metallic")["error"] == "out of memory"


def test_given_recently_updated_cells_when_swept_then_they_are_left_alone(
    world: World, replicate_state: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECONCILE_AFTER_SECONDS", "90")
    make_batch(world.repo)
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    assert sweep()["checked"] == 0


def test_given_too_little_time_left_when_swept_then_cells_wait_for_the_next_sweep_instead_of_a_timeout(
    world: World, replicate_state: dict[str, Any]
) -> None:
    # A sweep that ran past its Lambda timeout would fail as a whole and land on the failure queue.
    make_batch(world.repo, colors=())
    start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    replicate_state["p-1"] = {"status": "processing"}

    class AlmostOut(FakeLambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return 5_000

    answer = reconcile.lambda_handler({"source": "aws.events"}, AlmostOut())

    assert answer == {"checked": 0, "outcomes": {}}
    assert sweep()["outcomes"] == {"running": 1}  # the next sweep, with time, takes it
