"""Done when (issue 14): on the stand-in's outputs, every undrifted colour cell is "ok" and every
drifted one "off", over every sample colour and every sample angle (enabled or not). The pictures
take the product's path: the stand-in paints the angle from the sample photos, the colour from the
angle's PNG, the webhook stores both thumbnails, and the check compares the colour's thumbnail with
the fed angle's, at the product's default threshold."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from marketplace.color_check import OFF, OK, check_color
from marketplace.config import Settings
from marketplace.outputs import make_thumbnail
from replicate_standin import model

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PRESETS = ROOT / "samples" / "presets"
ANGLES = list(csv.DictReader((PRESETS / "angle_presets.csv").open(encoding="utf-8-sig")))
COLOURS = list(csv.DictReader((PRESETS / "color_presets.csv").open(encoding="utf-8-sig")))
TEMPLATES = {row["key"]: row["prompt_template"]
             for row in csv.DictReader((PRESETS / "global_prompts.csv").open(encoding="utf-8-sig"))}
PHOTOS = [(path.name, path.read_bytes()) for path in sorted((ROOT / "samples" / "photos").glob("*.jpg"))]
THRESHOLD = Settings.model_fields["color_check_max_delta_e"].default


@pytest.mark.parametrize("angle", ANGLES, ids=lambda row: row["angle_key"])
def test_given_every_sample_colour_on_this_angle_when_checked_then_undrifted_cells_are_ok_and_drifted_ones_off(
    angle: dict[str, str],
):
    angle_png = model.generate(TEMPLATES["angle_generation"].replace("{{ANGLE_DESC}}", angle["angle_desc"]), PHOTOS).data
    fed_thumb = make_thumbnail(angle_png)
    wrong: list[str] = []
    seconds: list[float] = []
    for colour in COLOURS:
        prompt = TEMPLATES["colorization"].replace("{{COLOR_NAME}}", colour["prompt_value"])
        for drift, expected in ((False, OK), (True, OFF)):
            out = model.generate(prompt, [("angle.png", angle_png)], drift=drift).data
            thumb = make_thumbnail(out)
            started = time.perf_counter()
            result = check_color(colour["prompt_value"], thumb, fed_thumb, THRESHOLD)
            seconds.append(time.perf_counter() - started)
            if result.verdict != expected:
                wrong.append(f"{colour['color_key']} drift={drift}: {result.as_view()}")
    assert not wrong, f"{angle['angle_key']}: " + "; ".join(wrong)
    assert sorted(seconds)[len(seconds) // 2] < 0.1, "the check is a few milliseconds an image"
