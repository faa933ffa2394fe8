"""The stand-in draws what the prompt asks: the viewpoint an angle names, the source car's own
paint, the colour and finish a colour job names (only the body changes), and the `drift` fault."""

from __future__ import annotations

import csv
import io

import pytest
from coloraide import Color
from PIL import Image, ImageChops
from standin_testkit import HOOK, ROOT, FakeNetwork, angle_prompt, car_photo, colour_prompt, create, standin

from replicate_standin import car_render, model, studio, viewpoint
from replicate_standin.settings import parse_faults

pytestmark = pytest.mark.unit

ANGLES = list(csv.DictReader((ROOT / "samples/presets/angle_presets.csv").open(encoding="utf-8-sig")))
COLOURS = list(csv.DictReader((ROOT / "samples/presets/color_presets.csv").open(encoding="utf-8-sig")))
SAMPLE_PHOTOS = sorted((ROOT / "samples/photos").glob("*.jpg"))
PRESET_VIEWS = {
    "front_0": 0, "front_right_45": 45, "side_90": 90, "rear_right_135": 135, "rear_180": 180,
    "rear_left_225": 225, "side_270": 270, "front_left_315": 315,
}


def rgb(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def hue_of(colour: tuple[int, int, int]) -> float:
    return float(Color("srgb", [c / 255 for c in colour]).convert("lch")["hue"])


# ------------------------------------------------------------------ reading the prompt


@pytest.mark.parametrize("row", ANGLES, ids=lambda row: row["angle_key"])
def test_given_each_angle_preset_when_its_prompt_is_read_then_the_view_is_the_one_it_names(row: dict[str, str]):
    view = viewpoint.view_of(angle_prompt(row["angle_desc"]))
    if row["angle_key"] == "top_down":
        assert view.elevation >= 70
    else:
        assert (view.azimuth, view.elevation) == (PRESET_VIEWS[row["angle_key"]], viewpoint.EYE_LEVEL)


@pytest.mark.parametrize(
    ("desc", "azimuth"),
    [
        ("front view", 0), ("front right corner", 45), ("three-quarter view from the rear left", 225),
        ("left side profile", 270), ("rear view", 180), ("the right side", 90), ("seen from 200°", 200),
    ],
)
def test_given_view_words_without_degrees_when_read_then_they_name_the_azimuth(desc: str, azimuth: float):
    assert viewpoint.view_of(angle_prompt(desc)).azimuth == azimuth


def test_given_a_prompt_naming_no_view_when_read_then_a_preset_position_is_chosen_stably():
    first = viewpoint.view_of("angle: a nice one")
    assert first == viewpoint.view_of("angle: a nice one") and first.azimuth in viewpoint.PRESET_AZIMUTHS


@pytest.mark.parametrize(
    ("value", "finish"),
    [("Red #C00000 (metallic)", "metallic"), ("White #F4F4F0 (pearlescent)", "pearl"),
     ("Grey #5A5E62 (matte, satin finish, no gloss)", "matte"), ("Yellow #F5C400 (solid gloss)", "gloss"),
     ("Purple #6A2C91 (chrome wrap)", "chrome"), ("Blue", "gloss")],
)
def test_given_a_colour_value_when_its_finish_is_read_then_the_named_finish_is_found(value: str, finish: str):
    assert viewpoint.finish_of(colour_prompt(value)) == finish


@pytest.mark.parametrize("row", COLOURS, ids=lambda row: row["color_key"])
def test_given_each_sample_colour_when_drifted_then_the_paint_is_far_off_the_target(row: dict[str, str]):
    target = model.find_colour(row["prompt_value"])
    assert target is not None
    drifted = viewpoint.drifted(target[1])
    wanted, got = Color("srgb", [c / 255 for c in target[1]]), Color("srgb", [c / 255 for c in drifted])
    assert wanted.delta_e(got, method="2000") >= viewpoint.DRIFT_MIN_DELTA_E


# ------------------------------------------------------------------ the pictures


def test_given_the_sample_photos_when_an_angle_is_made_then_the_car_keeps_its_own_teal_paint():
    sources = [(path.name, path.read_bytes()) for path in SAMPLE_PHOTOS]
    out = model.generate(angle_prompt(), sources)
    scene = model.scene_of(out.data)
    assert scene is not None and (scene.azimuth, scene.finish) == (45, "gloss")
    # The sample car is painted teal (make_photos.BODY): the measured paint is a clear teal.
    assert 160 <= hue_of(scene.body) <= 215 and max(scene.body) > 120


def test_given_the_front_and_the_side_when_drawn_then_the_side_view_is_the_car_long_side():
    def width_of_car(azimuth: float) -> int:
        _picture, mask = studio.render(studio.Scene(azimuth, viewpoint.EYE_LEVEL, (200, 0, 0)))
        box = mask.getbbox()
        assert box is not None
        return box[2] - box[0]

    assert width_of_car(90) > 1.8 * width_of_car(0)  # 4.5 m long, 1.8 m wide (and mirrors)


def test_given_a_right_side_view_when_drawn_then_the_front_of_the_car_points_right():
    camera = car_render.Camera(90, viewpoint.EYE_LEVEL, size=(640, 480))
    nose, tail = camera.project((2.27, 0.0, 0.52)), camera.project((-2.24, 0.0, 0.62))
    assert nose[0] > tail[0]
    camera = car_render.Camera(270, viewpoint.EYE_LEVEL, size=(640, 480))
    assert camera.project((2.27, 0.0, 0.52))[0] < camera.project((-2.24, 0.0, 0.62))[0]


def test_given_a_stand_in_angle_when_recoloured_then_only_the_body_changes():
    angle = model.generate(angle_prompt(), [("a", car_photo())])
    red = model.generate(colour_prompt("Red #C00000 (metallic)"), [("angle", angle.data)])
    scene = model.scene_of(angle.data)
    assert scene is not None
    _picture, body = studio.render(scene)
    outside = ImageChops.invert(body.point(lambda v: 255 if v else 0))
    changed = ImageChops.difference(rgb(angle.data), rgb(red.data)).convert("L").point(lambda v: 255 if v else 0)
    assert ImageChops.multiply(changed, outside).getbbox() is None, "nothing outside the body changed"
    assert changed.getbbox() is not None
    assert model.scene_of(red.data) == scene.repainted((192, 0, 0), "metallic")


def test_given_a_drift_when_a_colour_job_runs_then_its_paint_is_the_drifted_one():
    angle = model.generate(angle_prompt(), [("a", car_photo())]).data
    out = model.generate(colour_prompt("Red #C00000 (metallic)"), [("a", angle)], drift=True)
    scene = model.scene_of(out.data)
    assert scene is not None and scene.body == viewpoint.drifted((192, 0, 0)) == out.job.color


def test_given_a_drift_when_an_angle_job_runs_then_it_is_unaffected():
    photo = [("a", car_photo())]
    assert model.generate(angle_prompt(), photo, drift=True).data == model.generate(angle_prompt(), photo).data


def test_given_a_scene_text_that_is_not_ours_when_read_then_it_is_no_scene():
    for text in ("", "{}", "[1]", '{"v": 1, "body": "red"}', '{"v": 2, "azimuth": 0, "elevation": 0, "body": [1, 2, 3]}'):
        assert studio.Scene.from_text(text) is None


# ------------------------------------------------------------------ the fault


def test_given_the_drift_fault_when_parsed_then_it_is_a_known_fault_kind():
    assert parse_faults("drift=0.25,fail=0.1") == {"drift": 0.25, "fail": 0.1}


def test_given_the_drift_fault_when_colour_and_angle_jobs_run_then_only_colour_jobs_drift_and_the_report_says_so():
    network = FakeNetwork()
    photo = network.add_image("car.jpg", car_photo(size=(320, 240)))
    with standin(network, faults={"drift": 1.0}, latency_seconds=0.0) as (client, store):
        angle_id = create(client, angle_prompt(), [photo], webhook=HOOK).json()["id"]
        assert store.wait_idle(30)
        angle_png = client.get(f"/delivery/{angle_id}/output.png").content
        fed = network.add_image("angle.png", angle_png)
        colour_id = create(client, colour_prompt("Blue #1F4E9D (metallic)"), [fed], webhook=HOOK).json()["id"]
        assert store.wait_idle(30)
        colour_png = client.get(f"/delivery/{colour_id}/output.png").content
        report = client.get("/_standin/faults").json()
    assert report["drawn"]["drift"] == 2 and report["effective"]["drift"] == 1
    scene = model.scene_of(colour_png)
    assert scene is not None and scene.body == viewpoint.drifted((0x1F, 0x4E, 0x9D))
