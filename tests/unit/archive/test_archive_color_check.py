"""The colour check in the ZIP export and the CLI's download: each colour cell's check in
manifest.json, and a badge beside each colour cell of matrix.png ("✓ ΔE 3.1", "off ΔE 24.0")."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from PIL import Image
from test_archive_api import api, archive_call, builds, download, finished_batch, run_builder

from marketplace.archive import contact_sheet as cs
from marketplace.domain import Cell, ColorCheck
from marketplace.statuses import CellStatus, CellType
from marketplace_cli.download import CellFile
from marketplace_cli.download import build_manifest as cli_manifest
from tests.support.aws_resources import TABLE

pytestmark = pytest.mark.unit
__all__ = ["api", "builds"]  # fixtures shared with the archive API tests

OK_CHECK = {"target": "#c00000", "measured": "#bf0a08", "deltaE": 3.1, "verdict": "ok"}
OFF_CHECK = {"target": "#1f4e9d", "measured": "#9d4e1f", "deltaE": 24.0, "verdict": "off"}
UNKNOWN_CHECK = {"target": None, "measured": "#808080", "deltaE": None, "verdict": "unknown"}


def _store_check(batch_id: str, angle: str, color: str, check: dict[str, Any]) -> None:
    value = {"M": {k: ({"NULL": True} if v is None else {"N": str(v)} if isinstance(v, float) else {"S": v})
                   for k, v in check.items()}}
    boto3.client("dynamodb").update_item(
        TableName=TABLE, Key={"PK": {"S": f"BATCH#{batch_id}"}, "SK": {"S": f"CELL#{angle}#{color}"}},
        UpdateExpression="SET colorCheck = :c", ExpressionAttributeValues={":c": value})


def _badge_colour(sheet: Image.Image, row: int, column: int) -> tuple[int, int, int]:
    x0, _y0, _x1, y1 = cs.Layout(rows=2, columns=3).cell_box(row, column)
    return sheet.getpixel((x0 + 10, y1 - 10))  # type: ignore[return-value]


def test_given_checked_colour_cells_when_archived_then_the_manifest_and_the_matrix_carry_each_check(api, builds):
    batch_id = finished_batch(api)
    _store_check(batch_id, "front_0", "red_metallic", OK_CHECK)
    _store_check(batch_id, "front_0", "blue_metallic", OFF_CHECK)
    archive_call(api, "POST", batch_id)
    run_builder(builds[0])
    _, body = archive_call(api, "GET", batch_id)

    with zipfile.ZipFile(io.BytesIO(download(body["url"]))) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        matrix = Image.open(io.BytesIO(archive.read("matrix.png"))).convert("RGB")

    cells = {(c["angleKey"], c["colorKey"]): c for c in manifest["cells"]}
    assert cells[("front_0", "red_metallic")]["colorCheck"] == OK_CHECK
    assert cells[("front_0", "blue_metallic")]["colorCheck"] == OFF_CHECK
    assert cells[("side_90", "red_metallic")]["colorCheck"] is None  # not checked
    assert "colorCheck" not in cells[("front_0", None)]  # an angle has no colour to check
    assert _badge_colour(matrix, 0, 1) == cs.CHECK_COLOURS["ok"]
    assert _badge_colour(matrix, 0, 2) == cs.CHECK_COLOURS["off"]
    assert _badge_colour(matrix, 1, 1) not in cs.CHECK_COLOURS.values()


@pytest.mark.parametrize(
    ("check", "text"),
    [(OK_CHECK, "✓ ΔE 3.1"), (OFF_CHECK, "off ΔE 24.0"), (UNKNOWN_CHECK, "? unchecked"),
     ({**UNKNOWN_CHECK, "target": "#c00000", "measured": None}, "? not measured")],
)
def test_given_a_check_when_its_badge_is_written_then_it_says_the_verdict_and_delta_e(check: dict[str, Any], text: str):
    assert cs.check_text(check) == text


def test_given_a_sheet_with_checks_when_drawn_then_each_colour_tile_has_its_verdict_badge_and_the_angle_none():
    snapshot = {"batchId": "b", "angles": ["front_0"], "colors": ["red", "blue", "grey"], "cells": [
        {"angleKey": "front_0", "colorKey": None, "status": "completed", "colorCheck": None},
        {"angleKey": "front_0", "colorKey": "red", "status": "completed", "colorCheck": OK_CHECK},
        {"angleKey": "front_0", "colorKey": "blue", "status": "completed", "colorCheck": OFF_CHECK},
        {"angleKey": "front_0", "colorKey": "grey", "status": "completed", "colorCheck": UNKNOWN_CHECK},
    ]}
    image = Image.new("RGB", (cs.CELL_W, cs.CELL_H), (200, 200, 200))
    images = {("front_0", key): image for key in (None, "red", "blue", "grey")}
    sheet = cs.build_sheet(snapshot, None, images)
    layout = cs.Layout(rows=1, columns=4)
    badge = [sheet.getpixel((layout.cell_box(0, c)[0] + 10, layout.cell_box(0, c)[3] - 10)) for c in range(4)]
    assert badge == [(200, 200, 200), cs.CHECK_COLOURS["ok"], cs.CHECK_COLOURS["off"], cs.CHECK_COLOURS["unknown"]]


def test_given_downloaded_cells_when_the_cli_writes_its_manifest_then_colour_cells_carry_their_check():
    cells = [CellFile("angle", "front_0", None, "completed"),
             CellFile("color", "front_0", "red", "completed", colorCheck=OK_CHECK)]
    manifest = cli_manifest({"batchId": "b"}, cells)
    assert "colorCheck" not in manifest["cells"][0] and manifest["cells"][1]["colorCheck"] == OK_CHECK


def test_given_a_cell_record_with_a_check_when_read_back_then_it_is_typed():
    cell = Cell(batchId="b", type=CellType.COLOR, angleKey="a", colorKey="c", status=CellStatus.COMPLETED,
                colorCheck=OK_CHECK)  # type: ignore[arg-type]
    assert cell.colorCheck == ColorCheck(**OK_CHECK)
