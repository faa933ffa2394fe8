"""The colour check on the cell path (webhook or poll): a completing colour cell's image is measured
against its colour and the angle image it was fed; the check is stored on the cell, pushed with its
update and read back in the snapshot. Whatever goes wrong with the check, the cell completes."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from workflow_testkit import OWNER, World, data_uri, succeeded

from marketplace import batches, repository
from marketplace.color_check import service
from marketplace.domain import Batch, Cell
from marketplace.models import BatchSnapshot
from marketplace.statuses import CellType
from marketplace.urls import object_url
from replicate_standin import model

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PHOTOS = [(p.name, p.read_bytes()) for p in sorted((ROOT / "samples/photos").glob("*.jpg"))]
TEMPLATE = "Repaint the body of the car in this photo in {value}. Keep the glass, chrome and black trim."
COLOURS = {"red_metallic": "Red #C00000 (metallic)", "grey_matte": "Grey Matte", "mystery": "Midnight wrap"}


def make_colour_batch(repo: repository.Repository, prompt_values: dict[str, str | None] | None = None) -> None:
    values = prompt_values if prompt_values is not None else dict(COLOURS)
    now = repository.now_iso()
    rows = [Cell(batchId="b-1", type=CellType.ANGLE, angleKey="side_90", owner=OWNER,
                 prompt="angle: full right side profile at 90 degrees",
                 sourceImageUrls=["https://src.example.test/a.jpg"], createdAt=now, updatedAt=now)]
    for color, value in values.items():
        rows.append(Cell(batchId="b-1", type=CellType.COLOR, angleKey="side_90", colorKey=color, owner=OWNER,
                         prompt=TEMPLATE.format(value=value or COLOURS.get(color, "red")), promptValue=value,
                         createdAt=now, updatedAt=now))
    repo.create_batch(Batch(batchId="b-1", owner=OWNER, sourceImageUrls=["https://src.example.test/a.jpg"],
                            angles=["side_90"], colors=list(values), totalJobs=len(rows), createdAt=now, updatedAt=now), rows)


def complete_angle(world: World) -> bytes:
    """The angle made by the stand-in from the sample photos and delivered; returns its PNG."""
    angle = model.generate("angle: full right side profile at 90 degrees", PHOTOS).data
    cell = world.repo.get_cell("b-1", "side_90", None)
    assert cell is not None
    world.repo.record_prediction(cell, "p-angle", "tok-angle", ["https://src.example.test/a.jpg"], 0)
    from marketplace import cells

    current = world.repo.get_cell("b-1", "side_90", None)
    assert current is not None
    cells.handle_prediction_update(succeeded("p-angle", data_uri(angle)), current)
    return angle


def complete_colour(world: World, color: str, angle_png: bytes, drift: bool = False) -> dict[str, Any]:
    """RunPrediction hands the angle's stored PNG over (signed), the stand-in paints, the webhook lands."""
    cell = world.repo.get_cell("b-1", "side_90", color)
    assert cell is not None
    fed = [object_url("batches/b-1/side_90/angle.png", expires_in=3600)]
    world.repo.record_prediction(cell, f"p-{color}", f"tok-{color}", fed, 0)
    out = model.generate(cell.prompt, [("angle", angle_png)], drift=drift).data
    from marketplace import cells

    current = world.repo.get_cell("b-1", "side_90", color)
    assert current is not None
    assert cells.handle_prediction_update(succeeded(f"p-{color}", data_uri(out)), current) == "completed"
    return world.cell("b-1", "side_90", color)


def pushed(world: World, color: str) -> dict[str, Any]:
    return [u for u in world.job_updates() if u["colorKey"] == color and u["status"] == "completed"][-1]


def test_given_a_colour_cell_painted_as_asked_when_it_completes_then_ok_is_stored_pushed_and_in_the_snapshot(world: World):
    world.connect()
    make_colour_batch(world.repo)
    angle = complete_angle(world)

    row = complete_colour(world, "red_metallic", angle)

    check = row["colorCheck"]
    assert check["verdict"] == "ok" and check["target"] == "#c00000"
    assert isinstance(check["deltaE"], float) and 0 <= check["deltaE"] <= 10 and check["measured"].startswith("#")
    assert pushed(world, "red_metallic")["colorCheck"] == check
    snapshot = BatchSnapshot.model_validate(batches.get_snapshot(OWNER, "b-1")).model_dump(mode="json")
    by_key = {c["colorKey"]: c for c in snapshot["cells"]}
    assert by_key["red_metallic"]["colorCheck"] == check
    assert by_key[None]["colorCheck"] is None and by_key["grey_matte"]["colorCheck"] is None  # angle; not done yet
    assert pushed(world, None)["colorCheck"] is None


def test_given_a_drifted_colour_cell_when_it_completes_then_it_is_off(world: World):
    world.connect()
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    row = complete_colour(world, "red_metallic", angle, drift=True)
    assert row["colorCheck"]["verdict"] == "off" and row["colorCheck"]["deltaE"] > 20
    assert pushed(world, "red_metallic")["colorCheck"]["verdict"] == "off"


def test_given_a_colour_named_by_a_css_name_or_by_nothing_when_checked_then_its_target_follows(world: World):
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    grey = complete_colour(world, "grey_matte", angle)["colorCheck"]
    assert grey["target"] == "#808080" and grey["verdict"] == "ok"
    mystery = complete_colour(world, "mystery", angle)["colorCheck"]
    assert (mystery["target"], mystery["deltaE"], mystery["verdict"]) == (None, None, "unknown")


def test_given_a_cell_from_before_the_prompt_value_was_kept_when_checked_then_the_hex_in_its_prompt_is_the_target(world: World):
    make_colour_batch(world.repo, {"red_metallic": None})
    angle = complete_angle(world)
    check = complete_colour(world, "red_metallic", angle)["colorCheck"]  # prompt: "... in Red #C00000 (metallic)."
    assert (check["target"], check["verdict"]) == ("#c00000", "ok")


def test_given_the_fed_thumbnail_is_gone_when_checked_then_the_body_is_measured_without_it(world: World):
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    world.s3.delete_object(Bucket=service.get_settings().bucket_name, Key="batches/b-1/side_90/angle.thumb.png")
    assert complete_colour(world, "red_metallic", angle)["colorCheck"]["verdict"] == "ok"


def test_given_a_check_that_fails_when_the_colour_cell_completes_then_it_completes_with_unknown(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    make_colour_batch(world.repo)
    angle = complete_angle(world)

    def broken(*_: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "check_color", broken)
    row = complete_colour(world, "red_metallic", angle)
    assert row["status"] == "completed"
    assert row["colorCheck"] == {"target": None, "measured": None, "deltaE": None, "verdict": "unknown"}


def test_given_a_check_slower_than_its_bound_when_the_colour_cell_completes_then_it_does_not_wait_for_it(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    monkeypatch.setattr(service, "CHECK_SECONDS", 0.2)
    monkeypatch.setattr(service, "_fed_image", lambda _cell: time.sleep(1.0))
    started = time.monotonic()
    row = complete_colour(world, "red_metallic", angle)
    assert time.monotonic() - started < 1.0
    assert (row["status"], row["colorCheck"]["verdict"]) == ("completed", "unknown")


def test_given_a_colour_cell_completing_then_the_fed_image_is_read_while_its_output_is_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """The fed thumbnail's S3 read overlaps the download, thumbnail and puts (on AWS a read is
    tens of milliseconds on the path to the next cell)."""
    from marketplace import outputs

    make_colour_batch(world.repo)
    angle = complete_angle(world)
    real_fed, real_persist = service._fed_image, outputs.persist_output

    def slow_fed(cell: Any) -> Any:
        time.sleep(0.4)
        return real_fed(cell)

    def slow_persist(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.4)
        return real_persist(*args, **kwargs)

    monkeypatch.setattr(service, "_fed_image", slow_fed)
    monkeypatch.setattr(outputs, "persist_output", slow_persist)
    started = time.monotonic()
    row = complete_colour(world, "red_metallic", angle)
    assert time.monotonic() - started < 0.75  # side by side, not 0.4 + 0.4 one after the other
    assert (row["status"], row["colorCheck"]["verdict"]) == ("completed", "ok")


def test_given_a_retried_colour_cell_when_its_new_image_is_off_then_the_check_is_replaced(world: World):
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    assert complete_colour(world, "red_metallic", angle)["colorCheck"]["verdict"] == "ok"
    cell = world.repo.get_cell("b-1", "side_90", "red_metallic")
    assert cell is not None and world.repo.reopen_cell(cell, "run-2") is not None
    assert world.cell("b-1", "side_90", "red_metallic")["colorCheck"]["verdict"] == "ok", "kept with its image"
    cell = world.repo.get_cell("b-1", "side_90", "red_metallic")
    assert cell is not None
    world.repo.record_prediction(cell, "p-again", "tok-again", [object_url("batches/b-1/side_90/angle.png")], 0)
    out = model.generate(cell.prompt, [("angle", angle)], drift=True).data
    from marketplace import cells

    current = world.repo.get_cell("b-1", "side_90", "red_metallic")
    assert current is not None
    cells.handle_prediction_update(succeeded("p-again", data_uri(out)), current)
    assert world.cell("b-1", "side_90", "red_metallic")["colorCheck"]["verdict"] == "off"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://127.0.0.1:3200/bucket/batches/b-1/side_90/angle.png?X-Amz-Signature=abc", "batches/b-1/side_90/angle.thumb.png"),
        ("https://bucket.s3.amazonaws.com/batches/b-1/side_90/angle.3.png?X-Amz-Date=1", "batches/b-1/side_90/angle.3.thumb.png"),
        ("https://cdn.example.test/assets/batches/b-1/side_90/angle.png", "batches/b-1/side_90/angle.thumb.png"),
        ("https://cdn.example.test/batches/b-2/side_90/angle.png", None),
        ("https://cdn.example.test/batches/b-1/side_90/red.png", None),
    ],
)
def test_given_the_url_a_colour_job_was_fed_when_read_then_the_fed_angle_thumbnail_key_is_found(url: str, key: str | None):
    cell = Cell(batchId="b-1", type=CellType.COLOR, angleKey="side_90", colorKey="red", imageInput=[url])
    assert service.fed_thumb_key(cell) == key


def test_given_a_stored_check_when_written_then_delta_e_is_a_number_dynamodb_accepts(world: World):
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    complete_colour(world, "red_metallic", angle)
    raw = world.dynamodb.get_item(TableName=world.repo.table.name,
                                  Key={"PK": {"S": "BATCH#b-1"}, "SK": {"S": "CELL#side_90#red_metallic"}})["Item"]
    stored = raw["colorCheck"]["M"]
    assert set(stored) == {"target", "measured", "deltaE", "verdict"} and "N" in stored["deltaE"]
    assert Decimal(stored["deltaE"]["N"]) == Decimal(stored["deltaE"]["N"]).quantize(Decimal("0.1"))


def test_given_inputs_handed_over_as_replicate_files_when_checked_then_the_angle_cells_thumbnail_is_the_fed_image(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    make_colour_batch(world.repo)
    angle = complete_angle(world)
    seen: list[Any] = []
    real = service.check_color

    def spy(value: str | None, output: Any, fed: Any, max_delta_e: float) -> Any:
        seen.append(fed)
        return real(value, output, fed, max_delta_e)

    monkeypatch.setattr(service, "check_color", spy)
    cell = world.repo.get_cell("b-1", "side_90", "red_metallic")
    assert cell is not None
    world.repo.record_prediction(cell, "p-file", "tok-file", ["https://api.replicate.com/v1/files/abc123/download"], 0)
    out = model.generate(cell.prompt, [("angle", angle)]).data
    from marketplace import cells

    current = world.repo.get_cell("b-1", "side_90", "red_metallic")
    assert current is not None
    cells.handle_prediction_update(succeeded("p-file", data_uri(out)), current)
    stored = world.s3.get_object(Bucket=service.get_settings().bucket_name, Key="batches/b-1/side_90/angle.thumb.png")
    assert len(seen) == 1 and seen[0].tobytes() == service.open_small(stored["Body"].read()).tobytes()
    assert world.cell("b-1", "side_90", "red_metallic")["colorCheck"]["verdict"] == "ok"


def test_given_an_angles_colour_cells_completing_then_its_fed_image_is_read_and_decoded_once(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """The fed thumbnail is the same for every colour of an angle and its key never changes
    content: one S3 read and one decode serve them all (up to 40 cells)."""
    from PIL import Image

    make_colour_batch(world.repo, {"red_metallic": "Red #C00000 (metallic)", "blue": "Blue #1030C0",
                                   "green": "Green #10A040"})
    angle = complete_angle(world)
    reads: list[str] = []
    real_read = service._read_small
    monkeypatch.setattr(service, "_read_small", lambda key: reads.append(key) or real_read(key))
    opened: list[int] = []
    real_open = Image.open
    monkeypatch.setattr(Image, "open", lambda fp, *a, **k: opened.append(1) or real_open(fp, *a, **k))
    verdicts = [complete_colour(world, color, angle)["colorCheck"]["verdict"] for color in ("red_metallic", "blue", "green")]
    assert verdicts == ["ok", "ok", "ok"]
    assert reads == ["batches/b-1/side_90/angle.thumb.png"]
    # Per colour cell the output is opened to check it and to make its thumbnail; the colour check
    # measures that decoded thumbnail. The stand-in opens its input (the angle) once per job, and
    # the fed thumbnail is decoded once for all three.
    assert len(opened) == 3 * 2 + 3 + 1


def test_given_a_fed_image_read_that_fails_then_it_is_not_kept_and_the_next_cell_reads_it_again() -> None:
    images = service.FedImages(kept=2)
    attempts: list[str] = []

    def flaky(key: str) -> Any:
        attempts.append(key)
        if len(attempts) == 1:
            raise OSError("S3 is away")
        return f"picture of {key}"

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(service, "_read_small", flaky)
        with pytest.raises(OSError):
            images.get("a")
        assert [images.get("a"), images.get("a"), images.get("b"), images.get("c"), images.get("a")] == [
            "picture of a", "picture of a", "picture of b", "picture of c", "picture of a"]
    assert attempts == ["a", "a", "b", "c", "a"]  # "a" dropped as least recently used past two kept
