"""cells.handle_prediction_update: the one path for webhook and poll outcomes."""

from __future__ import annotations

import pytest
from workflow_testkit import OWNER, FakeClock, World, data_uri, deliver, make_batch, png_bytes, start, succeeded

from marketplace import cells
from marketplace.pacing import Pacing

pytestmark = pytest.mark.unit


def test_given_a_recorded_prediction_when_replicate_reports_a_running_status_then_nothing_changes_and_nothing_is_pushed(
    world: World,
) -> None:
    # The cell is processing from the moment its prediction is recorded (RunPrediction pushes
    # that); predictions subscribe to `completed` only, so a running status is at most a stray.
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    before = world.cell("b-1", "front_0")

    first = deliver(world.repo, {"id": "p-1", "status": "starting"}, recorded)
    second = deliver(world.repo, {"id": "p-1", "status": "processing"}, recorded)

    assert (first, second) == ("unchanged", "unchanged")
    assert recorded.status == "processing" and recorded.startedAt
    assert world.cell("b-1", "front_0") == before
    assert world.ws.posts == [] and world.sfn.successes == [] and world.sfn.failures == []
    assert world.sfn.heartbeats == []  # the callback tasks have no heartbeat to keep alive


def test_given_a_processing_cell_when_the_same_success_arrives_twice_then_one_asset_one_count_one_push_one_resume(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    update = succeeded("p-1", data_uri(png_bytes(640, 480)))

    outcomes = [deliver(world.repo, update, recorded) for _ in range(2)]

    assert outcomes == ["completed", "unchanged"]
    cell = world.cell("b-1", "front_0")
    assert cell["status"] == "completed"
    assert cell["imageKey"] == "batches/b-1/front_0/angle.png"
    assert "GSI1PK" not in cell  # no longer pending: the reconciler leaves it alone
    assert len(world.assets()) == 1
    assert world.assets()[0]["assetId"] == "b-1.front_0.angle"
    assert world.batch("b-1")["completedJobs"] == 1
    completed = [u for u in world.job_updates() if u["status"] == "completed"]
    assert len(completed) == 1
    assert completed[0]["imageUrl"] and completed[0]["thumbUrl"]
    assert "angle.thumb.png" in completed[0]["thumbUrl"]
    assert world.sfn.successes == [("tok-1", {"imageKey": cell["imageKey"]})]
    assert world.sfn.failures == []


def test_given_a_processing_colour_cell_when_completed_then_a_stray_start_arrives_then_it_stays_completed(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", "red_metallic", "p-2", "tok-2")

    done = deliver(world.repo, succeeded("p-2", [data_uri(png_bytes())]), recorded)
    late_start = deliver(world.repo, {"id": "p-2", "status": "starting"}, recorded)

    assert (done, late_start) == ("completed", "unchanged")
    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "completed"
    assert [u["status"] for u in world.job_updates()] == ["completed"]
    assert world.job_updates()[0]["type"] == "color" and world.job_updates()[0]["colorKey"] == "red_metallic"
    assert len(world.sfn.successes) == 1


def test_given_two_callers_that_read_the_cell_before_either_finished_when_both_deliver_then_one_write_goes_through(
    world: World,
) -> None:
    # No webhook receipts: a duplicate that read the cell while it was still processing is
    # stopped by the cell's conditional transition (one asset, one count, one push, one resume).
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    update = succeeded("p-1", data_uri(png_bytes()))

    first = cells.handle_prediction_update(update, recorded)
    second = cells.handle_prediction_update(update, recorded)  # the same stale (processing) copy

    assert (first, second) == ("completed", "unchanged")
    assert len(world.assets()) == 1 and world.batch("b-1")["completedJobs"] == 1
    assert [u["status"] for u in world.job_updates()] == ["completed"]
    assert len(world.sfn.successes) == 1


def test_given_a_cell_holding_another_prediction_when_a_prediction_is_handled_with_it_then_it_is_ignored(
    world: World,
) -> None:
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    assert cells.handle_prediction_update(succeeded("p-other", data_uri(png_bytes())), recorded) == "ignored"
    assert cells.handle_prediction_update({"id": None, "status": "failed", "error": "x"}, recorded) == "ignored"
    assert world.cell("b-1", "front_0")["status"] == "processing"
    assert world.keys() == [] and world.sfn.successes == [] and world.sfn.failures == []


def test_given_a_cell_from_before_cells_carried_their_owner_when_it_completes_then_the_batch_owner_is_told(
    world: World,
) -> None:
    world.connect(OWNER, "tab-1")
    make_batch(world.repo, legacy_cells=True)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    assert recorded.owner is None

    assert deliver(world.repo, succeeded("p-1", data_uri(png_bytes())), recorded) == "completed"

    assert [c for c, _ in world.ws.posts] == ["tab-1"]
    assert world.assets(OWNER)[0]["assetId"] == "b-1.front_0.angle"


def test_given_a_running_cell_when_replicate_reports_failed_then_the_cell_fails_with_its_error_and_the_task_fails(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-3", "tok-3")

    outcome = deliver(world.repo, {"id": "p-3", "status": "failed", "error": "NSFW content detected"}, recorded)
    again = deliver(world.repo, {"id": "p-3", "status": "failed", "error": "NSFW content detected"}, recorded)

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
    recorded = start(world.repo, "b-1", "front_0", None, "p-4", "tok-4")

    assert deliver(world.repo, {"id": "p-4", "status": status, "error": None}, recorded) == "failed"

    assert world.cell("b-1", "front_0")["error"] == f"prediction {status}"
    assert world.sfn.failures == [("tok-4", "PredictionFailed", f"prediction {status}")]


def test_given_a_success_whose_output_is_on_a_foreign_host_when_handled_then_the_cell_fails_cleanly(world: World) -> None:
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-5", "tok-5")

    outcome = deliver(world.repo, succeeded("p-5", "https://evil.example.com/x.png"), recorded)

    assert outcome == "failed"
    assert world.cell("b-1", "front_0")["error"].startswith("output rejected: output host")
    assert world.sfn.failures[0][1] == "PredictionFailed"
    assert world.keys() == []


def test_given_a_completed_cell_whose_workflow_was_not_told_when_the_delivery_is_retried_then_it_resumes_once(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-6", "tok-6")
    world.sfn.fail_next = 1  # SendTaskSuccess throttled after the cell was written

    with pytest.raises(Exception, match="ThrottlingException"):
        deliver(world.repo, succeeded("p-6", data_uri(png_bytes())), recorded)
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert world.sfn.successes == []

    retried = deliver(world.repo, succeeded("p-6", data_uri(png_bytes())), recorded)
    third = deliver(world.repo, succeeded("p-6", data_uri(png_bytes())), recorded)

    assert (retried, third) == ("resumed", "unchanged")
    assert len(world.sfn.successes) == 1
    assert len(world.assets()) == 1
    assert world.batch("b-1")["completedJobs"] == 1


def test_given_a_cell_rerun_with_a_new_prediction_when_the_old_one_reports_then_it_is_ignored(world: World) -> None:
    make_batch(world.repo)
    old = start(world.repo, "b-1", "front_0", None, "p-old", "tok-a")
    start(world.repo, "b-1", "front_0", None, "p-new", "tok-b")

    assert deliver(world.repo, succeeded("p-old", data_uri(png_bytes())), old) == "ignored"
    cell = world.cell("b-1", "front_0")
    assert (cell["status"], cell["predictionId"], cell["taskToken"]) == ("processing", "p-new", "tok-b")
    assert world.keys() == [] and world.sfn.successes == []


def test_given_an_unknown_status_when_handled_then_nothing_changes(world: World) -> None:
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-7", "tok-7")
    assert deliver(world.repo, {"id": "p-7", "status": "weird"}, recorded) == "ignored"
    assert world.cell("b-1", "front_0")["status"] == "processing"


def test_given_an_owner_with_two_tabs_when_a_cell_completes_then_both_connections_get_the_update(world: World) -> None:
    world.connect(OWNER, "tab-1")
    world.connect(OWNER, "tab-2")
    world.connect("someone-else", "tab-3")
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-8", "tok-8")

    deliver(world.repo, succeeded("p-8", data_uri(png_bytes())), recorded)

    assert sorted(c for c, _ in world.ws.posts) == ["tab-1", "tab-2"]


# ----- a finished angle hands over its colour jobs' create slots ------------------------------


def test_given_an_angle_with_colour_jobs_when_it_completes_then_the_workflow_gets_their_reserved_pace(
    world: World, clock: FakeClock
) -> None:
    make_batch(world.repo, colors=("red_metallic", "blue_metallic", "black_metallic"))
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1", color_count=3)

    assert deliver(world.repo, succeeded("p-1", data_uri(png_bytes())), recorded) == "completed"

    first = clock.now_ms - Pacing(600, 50).burst_ms  # a quiet schedule: the burst is due at once
    assert world.sfn.successes == [
        ("tok-1", {"imageKey": "batches/b-1/front_0/angle.png", "colorPace": {"startMs": first, "intervalMs": 100}})
    ]
    assert world.pacer()["nextMs"] == first + 3 * 100  # one reservation for all three


@pytest.mark.parametrize("color", [None, "red_metallic"], ids=["angle without colour jobs", "colour"])
def test_given_a_cell_with_no_colour_jobs_when_it_completes_then_no_pace_is_handed_over_and_no_slot_taken(
    world: World, clock: FakeClock, color: str | None
) -> None:
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", color, "p-1", "tok-1", color_count=0)

    assert deliver(world.repo, succeeded("p-1", data_uri(png_bytes())), recorded) == "completed"

    ((_, output),) = world.sfn.successes
    assert set(output) == {"imageKey"}
    assert world.pacer() is None


def test_given_an_angle_whose_first_resume_failed_when_the_delivery_is_retried_then_no_second_reservation_is_made(
    world: World, clock: FakeClock
) -> None:
    make_batch(world.repo, colors=("red_metallic", "blue_metallic"))
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1", color_count=2)
    world.sfn.fail_next = 1
    with pytest.raises(Exception, match="ThrottlingException"):
        deliver(world.repo, succeeded("p-1", data_uri(png_bytes())), recorded)
    schedule = world.pacer()

    assert deliver(world.repo, succeeded("p-1", data_uri(png_bytes())), recorded) == "resumed"

    # The retried resume hands over the image only: each colour job then takes its own slot.
    assert world.sfn.successes == [("tok-1", {"imageKey": "batches/b-1/front_0/angle.png"})]
    assert world.pacer() == schedule
