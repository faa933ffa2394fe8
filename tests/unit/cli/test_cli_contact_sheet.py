"""matrix.png: geometry of a sheet of 2 angles by 2 colours with one failed cell, labels, swatches."""

from __future__ import annotations

import io

import pytest
from cli_testkit import PRESETS, result, snapshot
from PIL import Image, ImageDraw

from marketplace.archive import contact_sheet as cs

pytestmark = pytest.mark.unit

RED, BLUE, TEAL = (192, 0, 0), (31, 78, 157), (0, 150, 140)


def images() -> dict:
    return {
        ("front_0", None): Image.new("RGB", (1024, 768), TEAL),
        ("front_0", "red_metallic"): Image.new("RGB", (1024, 768), RED),
        ("front_0", "blue_metallic"): Image.new("RGB", (1024, 768), BLUE),
        ("side_90", None): Image.new("RGB", (1024, 768), TEAL),
        ("side_90", "red_metallic"): Image.new("RGB", (1024, 768), RED),
        # side_90 in blue_metallic failed
    }


def two_by_two() -> dict:
    return snapshot(
        "batch-1",
        [
            result("front_0", None, "completed"),
            result("front_0", "red_metallic", "completed"),
            result("front_0", "blue_metallic", "completed"),
            result("side_90", None, "completed"),
            result("side_90", "red_metallic", "completed"),
            result("side_90", "blue_metallic", "failed", error="prediction failed: the model refused the image"),
        ],
    )


def centre(box: tuple[int, int, int, int]) -> tuple[int, int]:
    return ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)


def test_layout_geometry_for_two_angles_and_two_colours() -> None:
    layout = cs.Layout(rows=2, columns=3)
    assert layout.width == 2 * cs.MARGIN + cs.LABEL_W + 3 * (cs.CELL_W + cs.GAP)
    assert layout.height == 2 * cs.MARGIN + cs.TITLE_H + cs.HEADER_H + 2 * cs.CELL_H + cs.GAP + cs.FOOTER_H
    # cells ~320 px wide, 4:3, in a grid that never overlaps, inside the canvas
    for r in range(2):
        for c in range(3):
            x0, y0, x1, y1 = layout.cell_box(r, c)
            assert (x1 - x0, y1 - y0) == (320, 240)
            assert x0 >= 0 and x1 <= layout.width - cs.MARGIN and y1 <= layout.height - cs.MARGIN
    assert layout.cell_box(0, 1)[0] - layout.cell_box(0, 0)[2] == cs.GAP
    assert layout.cell_box(1, 0)[1] - layout.cell_box(0, 0)[3] == cs.GAP
    # the row labels sit left of the first column, the headers above the first row
    assert layout.label_box(1)[2] < layout.cell_box(1, 0)[0]
    assert layout.label_box(1)[1] == layout.cell_box(1, 0)[1]
    assert layout.header_box(2)[3] == layout.cell_box(0, 2)[1]
    assert layout.header_box(2)[0] == layout.cell_box(0, 2)[0]


def test_sheet_with_one_failed_cell() -> None:
    sheet = cs.build_sheet(two_by_two(), PRESETS, images())
    layout = cs.Layout(rows=2, columns=3)
    assert sheet.size == layout.size
    assert sheet.mode == "RGB"
    # images where they belong
    assert sheet.getpixel(centre(layout.cell_box(0, 0))) == TEAL
    assert sheet.getpixel(centre(layout.cell_box(0, 1))) == RED
    assert sheet.getpixel(centre(layout.cell_box(0, 2))) == BLUE
    assert sheet.getpixel(centre(layout.cell_box(1, 1))) == RED
    # the failed cell is a grey tile with text on it
    failed = sheet.crop(layout.cell_box(1, 2))
    assert failed.getpixel((5, 60)) == cs.FAILED_BG
    colours = {colour for _, colour in failed.getcolors(maxcolors=100_000)}
    assert cs.FAILED_ACCENT in colours  # the word "failed"
    assert len(colours) > 10  # anti-aliased text: the reason is drawn
    # clean white background around the grid
    assert sheet.getpixel((2, 2)) == cs.WHITE
    assert sheet.getpixel((layout.width - 3, layout.height - 3)) == cs.WHITE


def test_labels_and_swatches_are_drawn() -> None:
    sheet = cs.build_sheet(two_by_two(), PRESETS, images())
    layout = cs.Layout(rows=2, columns=3)

    def has_ink(box: tuple[int, int, int, int]) -> bool:
        region = sheet.crop(box).convert("L")
        return region.getextrema()[0] < 128

    for row in range(2):
        assert has_ink(layout.label_box(row)), f"row label {row}"
    for column in range(3):
        assert has_ink(layout.header_box(column)), f"header {column}"
    red_header = sheet.crop(layout.header_box(1))
    assert RED in {c for _, c in red_header.getcolors(maxcolors=100_000)}  # the #C00000 swatch
    blue_header = sheet.crop(layout.header_box(2))
    assert BLUE in {c for _, c in blue_header.getcolors(maxcolors=100_000)}  # the #1F4E9D swatch
    assert has_ink((cs.MARGIN, cs.MARGIN, layout.width - cs.MARGIN, cs.MARGIN + cs.TITLE_H))  # title


def test_missing_and_unfinished_cells_are_pale_tiles() -> None:
    shot = snapshot(
        "b",
        [result("front_0", None, "completed"), result("front_0", "red_metallic", "processing")],
        angles=["front_0"],
        colors=["red_metallic", "blue_metallic"],
    )
    sheet = cs.build_sheet(shot, None, {("front_0", None): Image.new("RGB", (400, 300), TEAL)})
    layout = cs.Layout(rows=1, columns=3)
    assert sheet.size == layout.size
    assert sheet.crop(layout.cell_box(0, 1)).getpixel((10, 10)) == cs.PENDING_BG
    assert sheet.crop(layout.cell_box(0, 2)).getpixel((10, 10)) == cs.PENDING_BG


def test_completed_cell_without_an_image_is_drawn_as_failed() -> None:
    shot = snapshot("b", [result("front_0", None, "completed")], angles=["front_0"], colors=[])
    sheet = cs.build_sheet(shot, PRESETS, {})
    layout = cs.Layout(rows=1, columns=1)
    assert sheet.crop(layout.cell_box(0, 0)).getpixel((5, 60)) == cs.FAILED_BG


def test_non_4_3_images_are_letterboxed_not_stretched() -> None:
    shot = snapshot("b", [result("front_0", None, "completed")], angles=["front_0"], colors=[])
    sheet = cs.build_sheet(shot, PRESETS, {("front_0", None): Image.new("RGB", (1000, 1000), TEAL)})
    x0, y0, x1, y1 = cs.Layout(rows=1, columns=1).cell_box(0, 0)
    assert sheet.getpixel((x0 + 5, (y0 + y1) // 2)) == cs.WHITE  # square image: white bars left and right
    assert sheet.getpixel(((x0 + x1) // 2, (y0 + y1) // 2)) == TEAL


def test_png_round_trip() -> None:
    buffer = io.BytesIO()
    cs.build_sheet(two_by_two(), PRESETS, images()).save(buffer, "PNG")
    again = Image.open(io.BytesIO(buffer.getvalue()))
    assert again.format == "PNG" and again.size == cs.Layout(rows=2, columns=3).size


@pytest.mark.parametrize(
    ("prompt", "rgb"),
    [
        ("Red #C00000 (metallic)", (192, 0, 0)),
        ("British racing green #004225 (gloss)", (0, 66, 37)),
        ("short #fa0", (255, 170, 0)),
        ("no colour here", None),
        ("#12345 too short and #1234567 too long", None),
        (None, None),
    ],
)
def test_swatch_from_prompt_value(prompt: str | None, rgb: tuple | None) -> None:
    assert cs.swatch_rgb(prompt) == rgb


def test_text_fitting_and_wrapping() -> None:
    draw = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    face = cs.font(14)
    assert cs.fit_text(draw, "short", face, 500) == "short"
    cut = cs.fit_text(draw, "a very long colour label that cannot fit", face, 80)
    assert cut.endswith("…") and draw.textlength(cut, font=face) <= 80
    lines = cs.wrap_text(draw, "prediction failed: " + "word " * 60, face, 200, 4)
    assert len(lines) == 4 and lines[-1].endswith("…")
    assert all(draw.textlength(line, font=face) <= 200 for line in lines)
    assert cs.wrap_text(draw, "fits", face, 200, 4) == ["fits"]


def test_fonts_are_readable_sizes() -> None:
    face = cs.font(18, bold=True)
    _, top, _, bottom = face.getbbox("Ag")
    assert bottom - top >= 14  # not Pillow's 11 px bitmap default


def test_readable_time() -> None:
    assert cs.readable_time("2026-01-02T03:04:05.678Z") == "2026-01-02 03:04 UTC"
    assert cs.readable_time("yesterday") == "yesterday"
