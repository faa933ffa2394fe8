"""RecordFailure and FinalizeBatch: the workflow's bookkeeping tasks (through their handlers)."""

from __future__ import annotations

import json

import pytest
from workflow_testkit import World, data_uri, deliver, make_batch, png_bytes, start, succeeded

from marketplace import workflow_tasks
from marketplace.domain import Cell
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

record_failure = load_function("record_failure")
finalize_batch = load_function("finalize_batch")


def lambda_cause(message: str, error_type: str = "ReplicateRejected") -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})


def test_given_an_angle_that_failed_to_start_when_recorded_then_it_and_its_open_colours_fail_with_the_reason(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo, angles=("front_0", "side_90"), colors=("red_metallic", "blue_metallic"))
    event = {
        "batchId": "b-1", "angleKey": "front_0", "colorKey": None,
        "error": {"Error": "ReplicateRejected", "Cause": lambda_cause("Replicate rejected the prediction (422): bad input")},
    }

    answer = record_failure.lambda_handler(event, FakeLambdaContext())

    assert answer == {"batchId": "b-1", "failedCells": 3}
    reason = "ReplicateRejected: Replicate rejected the prediction (422): bad input"
    assert world.cell("b-1", "front_0")["error"] == reason
    for color in ("red_metallic", "blue_metallic"):
        assert world.cell("b-1", "front_0", color)["error"] == f"angle front_0 failed: {reason}"
        assert world.cell("b-1", "side_90", color)["status"] == "queued"
    assert world.batch("b-1")["failedJobs"] == 3
    assert sorted((u["angleKey"], u["colorKey"] or "", u["status"]) for u in world.job_updates()) == [
        ("front_0", "", "failed"), ("front_0", "blue_metallic", "failed"), ("front_0", "red_metallic", "failed"),
    ]


def test_given_an_angle_the_webhook_already_failed_when_recorded_then_its_colours_carry_the_cells_own_reason(
    world: World,
) -> None:
    make_batch(world.repo, colors=("red_metallic",))
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    deliver(world.repo, {"id": "p-1", "status": "failed", "error": "model crashed"}, recorded)

    count = workflow_tasks.record_failure("b-1", "front_0", None, {"Error": "PredictionFailed", "Cause": "model crashed"})

    assert count == 1
    assert world.cell("b-1", "front_0", "red_metallic")["error"] == "angle front_0 failed: model crashed"
    assert world.batch("b-1")["failedJobs"] == 2


def test_given_a_colour_that_timed_out_when_recorded_then_only_that_colour_fails(world: World) -> None:
    make_batch(world.repo, colors=("red_metallic", "blue_metallic"))

    count = workflow_tasks.record_failure("b-1", "front_0", "red_metallic", {"Error": "States.HeartbeatTimeout", "Cause": ""})

    assert count == 1
    assert world.cell("b-1", "front_0", "red_metallic")["error"] == "timed out waiting for the prediction"
    assert world.cell("b-1", "front_0", "blue_metallic")["status"] == "queued"
    assert world.cell("b-1", "front_0")["status"] == "queued"


def test_given_a_completed_colour_when_its_angle_failure_is_recorded_then_the_finished_colour_is_untouched(
    world: World,
) -> None:
    make_batch(world.repo, colors=("red_metallic", "blue_metallic"))
    recorded = start(world.repo, "b-1", "front_0", "red_metallic", "p-r", "tok-r")
    deliver(world.repo, succeeded("p-r", data_uri(png_bytes())), recorded)

    workflow_tasks.record_failure("b-1", "front_0", None, {"Error": "States.Timeout"})

    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "completed"
    assert world.cell("b-1", "front_0", "blue_metallic")["status"] == "failed"


def test_given_every_cell_terminal_when_finalized_twice_then_the_batch_completes_and_is_announced_once(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo, colors=())
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    deliver(world.repo, succeeded("p-1", data_uri(png_bytes())), recorded)

    first = finalize_batch.lambda_handler({"batchId": "b-1", "executionName": "b-1"}, FakeLambdaContext())
    second = finalize_batch.lambda_handler({"batchId": "b-1", "executionName": "b-1"}, FakeLambdaContext())

    assert (first["completed"], second["completed"]) == (True, False)
    assert world.batch("b-1")["status"] == "completed"
    assert world.ws.messages("marketplaceBatchCompleted") == [
        {"type": "marketplaceBatchCompleted", "data": {"batchId": "b-1", "status": "completed", "counts": {
            "queued": 0, "processing": 0, "completed": 1, "failed": 0, "canceled": 0}}}
    ]


def test_given_an_open_cell_when_finalized_then_the_batch_stays_running_and_nothing_is_pushed(world: World) -> None:
    world.connect()
    make_batch(world.repo)

    assert workflow_tasks.finalize_batch("b-1") is False
    assert world.batch("b-1")["status"] == "running"
    assert world.ws.messages("marketplaceBatchCompleted") == []


def test_given_a_branch_that_ended_abnormally_when_its_run_is_finalized_then_its_open_cells_fail_and_the_batch_completes(
    world: World,
) -> None:
    # RecordFailure out of retries (or a runtime error, a timeout) ended the child execution with
    # its cells still open: without FinalizeBatch closing them the batch would run forever.
    world.connect()
    make_batch(world.repo, angles=("front_0", "side_90"), colors=("red_metallic",))
    for angle in ("front_0", "side_90"):
        recorded = start(world.repo, "b-1", angle, None, f"p-{angle}", f"tok-{angle}")
        deliver(world.repo, succeeded(f"p-{angle}", data_uri(png_bytes())), recorded)
    recorded = start(world.repo, "b-1", "front_0", "red_metallic", "p-red", "tok-red")
    deliver(world.repo, succeeded("p-red", data_uri(png_bytes())), recorded)

    answer = finalize_batch.lambda_handler(
        {"batchId": "b-1", "runId": "b-1", "executionName": "b-1", "workflowError": {}}, FakeLambdaContext()
    )

    assert answer == {"batchId": "b-1", "completed": True, "cellsClosed": 1}
    left = world.cell("b-1", "side_90", "red_metallic")
    assert left["status"] == "failed" and left["error"] == workflow_tasks.RUN_ENDED
    assert world.batch("b-1")["status"] == "completed_with_failures"  # 3 of 4 made: never "completed"
    assert [u["status"] for u in world.job_updates() if u["colorKey"] == "red_metallic" and u["angleKey"] == "side_90"] == [
        "failed"
    ]
    assert len(world.ws.messages("marketplaceBatchCompleted")) == 1


def test_given_the_angle_map_failed_when_finalized_then_the_reason_names_the_workflow_error(world: World) -> None:
    make_batch(world.repo, colors=())
    error = {"Error": "States.DataLimitExceeded", "Cause": "The state/task returned a result exceeding the limit"}

    finalize_batch.lambda_handler({"batchId": "b-1", "runId": "b-1", "workflowError": error}, FakeLambdaContext())

    reason = world.cell("b-1", "front_0")["error"]
    assert reason.startswith(workflow_tasks.RUN_ENDED) and "States.DataLimitExceeded" in reason
    assert world.batch("b-1")["status"] == "failed"  # nothing was made


def test_given_a_colourise_run_finalized_while_the_creation_run_works_then_only_its_own_cells_are_closed(
    world: World,
) -> None:
    make_batch(world.repo, colors=("red_metallic",))
    world.repo.add_color_cells("b-1", [Cell.model_validate({
        "batchId": "b-1", "runId": "b-1-colorize-1", "type": "color", "angleKey": "front_0", "colorKey": "blue_metallic",
        "status": "queued", "prompt": "Repaint the car body in blue_metallic paint.",
        "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z",
    })], ["red_metallic", "blue_metallic"], "b-1-colorize-1")

    answer = finalize_batch.lambda_handler({"batchId": "b-1", "runId": "b-1-colorize-1"}, FakeLambdaContext())

    assert answer["cellsClosed"] == 1 and answer["completed"] is False
    assert world.cell("b-1", "front_0", "blue_metallic")["status"] == "failed"
    assert world.cell("b-1", "front_0")["status"] == "queued"  # the creation run's: still working
    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "queued"
    assert world.batch("b-1")["status"] == "running"
