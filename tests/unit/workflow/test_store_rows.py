"""The data layer, store by store (marketplace.store): typed records in and out, forward-only
cells, owner-bound reads, and the one place a failed condition becomes "nothing changed"."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from workflow_testkit import OWNER, World, make_batch

from marketplace import keys
from marketplace.domain import Batch, Cell
from marketplace.errors import NotFound, StateConflict, ValidationFailed
from marketplace.statuses import CellStatus, CellType
from marketplace.store.table import conditional

pytestmark = pytest.mark.unit


# ----- batches and cells ---------------------------------------------------------------------


def test_given_a_batch_when_read_back_then_it_is_the_typed_record_written(world: World) -> None:
    written = make_batch(world.repo, angles=("front_0", "side_90"), colors=("red_metallic",))

    assert world.repo.get_batch("b-1") == written
    cells = world.repo.list_cells("b-1")
    assert {(c.angleKey, c.colorKey, c.type) for c in cells} == {
        ("front_0", None, CellType.ANGLE), ("front_0", "red_metallic", CellType.COLOR),
        ("side_90", None, CellType.ANGLE), ("side_90", "red_metallic", CellType.COLOR),
    }
    assert {c.status for c in cells} == {CellStatus.QUEUED}


def test_given_a_batch_id_taken_when_created_again_then_state_conflict(world: World) -> None:
    batch = make_batch(world.repo)
    with pytest.raises(StateConflict):
        world.repo.create_batch(batch, [])


def test_given_another_owners_batch_when_read_as_owned_then_not_found_like_a_missing_one(world: World) -> None:
    make_batch(world.repo)
    with pytest.raises(NotFound):
        world.repo.get_owned_batch("b-1", "someone-else")
    with pytest.raises(NotFound):
        world.repo.get_owned_batch("no-such-batch", OWNER)


def test_given_colour_cells_some_existing_when_added_then_only_the_new_ones_count(world: World) -> None:
    make_batch(world.repo, colors=("red_metallic",))
    wanted = [Cell(batchId="b-1", type=CellType.COLOR, angleKey="front_0", colorKey=c, prompt="p", createdAt="t")
              for c in ("red_metallic", "blue_metallic")]

    created = world.repo.add_color_cells("b-1", wanted, ["red_metallic", "blue_metallic"], "b-1-colorize-1")

    assert [c.colorKey for c in created] == ["blue_metallic"]
    assert world.batch("b-1")["totalJobs"] == 3


# ----- cell transitions ----------------------------------------------------------------------


def test_given_a_completed_cell_when_failed_or_started_again_then_nothing_changes(world: World) -> None:
    make_batch(world.repo, colors=())
    cell = world.repo.get_cell("b-1", "front_0", None)
    assert cell is not None
    completed = world.repo.complete_cell(cell, OWNER, "k.png", "k.thumb.png")
    assert completed is not None and completed.status == CellStatus.COMPLETED

    assert world.repo.fail_cell("b-1", "front_0", None, "late failure") is None
    assert world.repo.complete_cell(cell, OWNER, "k.png", "k.thumb.png") is None
    with pytest.raises(StateConflict):
        world.repo.record_prediction(cell, "p-late", "tok", [])
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert (world.batch("b-1")["completedJobs"], world.batch("b-1")["failedJobs"]) == (1, 0)


# ----- recording a prediction ----------------------------------------------------------------


def test_given_a_queued_cell_when_its_prediction_is_recorded_then_one_write_makes_it_processing_and_returns_it(
    world: World,
) -> None:
    make_batch(world.repo)
    cell = world.repo.get_cell("b-1", "front_0", None)
    assert cell is not None and cell.status == CellStatus.QUEUED

    recorded = world.repo.record_prediction(cell, "p-1", "tok-1", ["https://src.example.test/a.jpg"], 3)

    row = world.cell("b-1", "front_0")
    assert recorded == Cell.model_validate(row)
    assert (row["status"], row["predictionId"], row["taskToken"]) == ("processing", "p-1", "tok-1")
    assert row["imageInput"] == ["https://src.example.test/a.jpg"] and row["colorCount"] == 3
    assert row["startedAt"] == row["updatedAt"] == row["GSI1SK"] and row["GSI1PK"] == keys.PENDING
    assert row["predictionCount"] == 1 and row["owner"] == OWNER
    # Nothing else is written: no pointer row, no receipt row (the webhook reads the cell itself).
    items = world.dynamodb.scan(TableName=world.repo.table.name)["Items"]
    assert sorted(item["PK"]["S"] for item in items if not item["PK"]["S"].startswith(("BATCH#", "OWNER#"))) == []


def test_given_a_recorded_cell_when_a_new_prediction_is_recorded_then_it_replaces_the_old_one_and_counts_both(
    world: World,
) -> None:
    make_batch(world.repo)
    cell = world.repo.get_cell("b-1", "front_0", "red_metallic")
    assert cell is not None
    world.repo.record_prediction(cell, "p-1", "tok-1", [])

    again = world.repo.record_prediction(cell, "p-2", "tok-2", [])

    assert (again.predictionId, again.taskToken, again.predictionCount, again.colorCount) == ("p-2", "tok-2", 2, 0)


# ----- connections ---------------------------------------------------------------------------


def test_given_connections_when_one_is_deleted_then_the_owner_keeps_the_other(world: World) -> None:
    world.repo.put_connection("c-1", OWNER)
    world.repo.put_connection("c-2", OWNER)

    world.repo.delete_connection("c-1")

    assert world.repo.list_owner_connections(OWNER) == ["c-2"]
    assert world.repo.get_connection_owner("c-1") is None and world.repo.get_connection_owner("c-2") == OWNER


# ----- gallery -------------------------------------------------------------------------------


def test_given_a_page_token_of_another_owner_when_listing_then_422_naming_next_token(world: World) -> None:
    make_batch(world.repo, angles=("front_0", "side_90"), colors=())
    for angle in ("front_0", "side_90"):
        cell = world.repo.get_cell("b-1", angle, None)
        assert cell is not None
        world.repo.complete_cell(cell, OWNER, f"{angle}.png", f"{angle}.thumb.png")
    page, token = world.repo.list_gallery(OWNER, 1, None)
    assert len(page) == 1 and token

    with pytest.raises(ValidationFailed) as refused:
        world.repo.list_gallery("someone-else", 1, token)
    assert refused.value.field == "nextToken"
    rest, _ = world.repo.list_gallery(OWNER, 5, token)
    assert {a.angleKey for a in page + rest} == {"front_0", "side_90"}


# ----- the table adapter ---------------------------------------------------------------------


def test_given_a_write_whose_condition_fails_then_it_is_an_outcome_and_other_errors_still_raise() -> None:
    def fail(code: str) -> None:
        raise ClientError({"Error": {"Code": code, "Message": "x"}}, "PutItem")

    with conditional() as outcome:
        fail("ConditionalCheckFailedException")
    assert outcome.held is False
    with pytest.raises(ClientError), conditional():
        fail("ProvisionedThroughputExceededException")


def test_given_the_typed_batch_when_stored_then_statuses_are_their_strings(world: World) -> None:
    batch = Batch(batchId="b-9", owner=OWNER, sourceImageUrls=["https://x.test/a.jpg"], angles=["front_0"], createdAt="t")
    world.repo.create_batch(batch, [])
    assert world.batch("b-9")["status"] == "running"
