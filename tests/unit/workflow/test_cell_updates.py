"""cells.handle_prediction_update: the one path for webhook and poll outcomes."""

from __future__ import annotations

import pytest
from workflow_testkit import OWNER, World, data_uri, make_batch, png_bytes, start, succeeded

from marketplace import cells

pytestmark = pytest.mark.unit


def test_given_a_queued_cell_when_replicate_reports_start_then_it_is_processing_and_pushed_once(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    first = cells.handle_prediction_update({"id": "p-1", "status": "starting"}, pointer)
    second = cells.handle_prediction_update({"id": "p-1", "status": "processing"}, pointer)

    assert (first, second) == ("processing", "unchanged")
    assert world.cell("b-1", "front_0")["status"] == "processing"
    assert [u["status"] for u in world.job_updates()] == ["processing"]
    assert world.job_updates()[0] == {
        "type": "angle", "angleKey": "front_0", "colorKey": None, "status": "processing",
        "imageUrl": None, "thumbUrl": None, "error": None,
    }
    assert world.sfn.heartbeats == []  # the callback tasks have no heartbeat to keep alive


def test_given_a_processing_cell_when_the_same_success_arrives_twice_then_one_asset_one_count_one_push_one_resume(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    cells.handle_prediction_update({"id": "p-1", "status": "processing"}, pointer)
    update = succeeded("p-1", data_uri(png_bytes(640, 480)))

    outcomes = [cells.handle_prediction_update(update, pointer) for _ in range(2)]

    assert outcomes == ["completed", "unchanged"]
    cell = world.cell("b-1", "front_0")
    assert cell["status"] == "completed"
    assert cell["imageKey"] == "batches/b-1/front_0/angle.png"
    assert "GSI1PK" not in cell and "taskToken" not in cell and cell["taskNotifiedAt"]
    assert len(world.assets()) == 1
    assert world.assets()[0]["assetId"] == "b-1.front_0.angle"
    assert world.batch("b-1")["completedJobs"] == 1
    completed = [u for u in world.job_updates() if u["status"] == "completed"]
    assert len(completed) == 1
    assert completed[0]["imageUrl"] and completed[0]["thumbUrl"]
    assert "angle.thumb.png" in completed[0]["thumbUrl"]
    assert world.sfn.successes == [("tok-1", {"imageKey": cell["imageKey"]})]
    assert world.sfn.failures == []


def test_given_a_queued_cell_when_completed_arrives_before_start_then_it_goes_straight_to_completed(world: World) -> None:
    world.connect()
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", "red_metallic", "p-2", "tok-2")

    done = cells.handle_prediction_update(succeeded("p-2", [data_uri(png_bytes())]), pointer)
    late_start = cells.handle_prediction_update({"id": "p-2", "status": "starting"}, pointer)

    assert (done, late_start) == ("completed", "unchanged")
    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "completed"
    assert [u["status"] for u in world.job_updates()] == ["completed"]
    assert world.job_updates()[0]["type"] == "color" and world.job_updates()[0]["colorKey"] == "red_metallic"
    assert len(world.sfn.successes) == 1


def test_given_a_running_cell_when_replicate_reports_failed_then_the_cell_fails_with_its_error_and_the_task_fails(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-3", "tok-3")

    outcome = cells.handle_prediction_update({"id": "p-3", "status": "failed", "error": "NSFW content detected"}, pointer)
    again = cells.handle_prediction_update({"id": "p-3", "status": "failed", "error": "NSFW content detected"}, pointer)

    assert (outcome, again) == ("failed", "unchanged")
    cell = world.cell("b-1", "front_0")
    assert cell["status"] == "failed" and cell["error"] == "NSFW content detected"
    assert world.batch("b-1")["failedJobs"] == 1
    assert world.assets() == []
    assert world.sfn.failures == [("tok-3", "PredictionFailed", "NSFW content detected")]
    assert [(u["status"], u["error"]) for u in world.job_updates()] == [("failed", "NSFW content detected")]


@pytest.mark.parametrize("status", ["aborted", "canceled"])
def test_given_a_running_cell_when_the_prediction_ends_without_output_then_the_reason_names_the_status(
    world: World, status: str
) -> None:
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-4", "tok-4")

    assert cells.handle_prediction_update({"id": "p-4", "status": status, "error": None}, pointer) == "failed"

    assert world.cell("b-1", "front_0")["error"] == f"prediction {status}"
    assert world.sfn.failures == [("tok-4", "PredictionFailed", f"prediction {status}")]


def test_given_a_success_whose_output_is_on_a_foreign_host_when_handled_then_the_cell_fails_cleanly(world: World) -> None:
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-5", "tok-5")

    outcome = cells.handle_prediction_update(succeeded("p-5", "https://evil.example.com/x.png"), pointer)

    assert outcome == "failed"
    assert world.cell("b-1", "front_0")["error"].startswith("output rejected: output host")
    assert world.sfn.failures[0][1] == "PredictionFailed"
    assert world.keys() == []


def test_given_a_completed_cell_whose_workflow_was_not_told_when_the_delivery_is_retried_then_it_resumes_once(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-6", "tok-6")
    world.sfn.fail_next = 1  # SendTaskSuccess throttled after the cell was written

    with pytest.raises(Exception, match="ThrottlingException"):
        cells.handle_prediction_update(succeeded("p-6", data_uri(png_bytes())), pointer)
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert world.sfn.successes == []

    retried = cells.handle_prediction_update(succeeded("p-6", data_uri(png_bytes())), pointer)
    third = cells.handle_prediction_update(succeeded("p-6", data_uri(png_bytes())), pointer)

    assert (retried, third) == ("resumed", "unchanged")
    assert len(world.sfn.successes) == 1
    assert len(world.assets()) == 1
    assert world.batch("b-1")["completedJobs"] == 1


def test_given_a_cell_rerun_with_a_new_prediction_when_the_old_one_reports_then_it_is_ignored(world: World) -> None:
    make_batch(world.repo)
    old_pointer = start(world.repo, "b-1", "front_0", None, "p-old", "tok-a")
    start(world.repo, "b-1", "front_0", None, "p-new", "tok-b")

    assert cells.handle_prediction_update(succeeded("p-old", data_uri(png_bytes())), old_pointer) == "ignored"
    assert world.cell("b-1", "front_0")["status"] == "queued"


def test_given_an_unknown_status_when_handled_then_nothing_changes(world: World) -> None:
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-7", "tok-7")
    assert cells.handle_prediction_update({"id": "p-7", "status": "weird"}, pointer) == "ignored"
    assert world.cell("b-1", "front_0")["status"] == "queued"


def test_given_an_owner_with_two_tabs_when_a_cell_completes_then_both_connections_get_the_update(world: World) -> None:
    world.connect(OWNER, "tab-1")
    world.connect(OWNER, "tab-2")
    world.connect("someone-else", "tab-3")
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-8", "tok-8")

    cells.handle_prediction_update(succeeded("p-8", data_uri(png_bytes())), pointer)

    assert sorted(c for c, _ in world.ws.posts) == ["tab-1", "tab-2"]
