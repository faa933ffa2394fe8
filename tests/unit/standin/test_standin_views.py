"""What a viewpoint's pictures share is made once (``studio.VIEWS``: the set, the car's box, its
plan) and drawing from it shows the same car as drawing the whole picture afresh."""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw
from standin_testkit import angle_prompt, car_photo, colour_prompt

from replicate_standin import car_render, model, png, studio, viewpoint

pytestmark = pytest.mark.unit

VIEWPOINTS = [(azimuth, viewpoint.EYE_LEVEL) for azimuth in viewpoint.PRESET_AZIMUTHS] + [
    (0.0, viewpoint.OVERHEAD), (30.0, 25.0), (200.0, 2.0), (333.3, 60.0)]
SIZE = (studio.WIDTH * studio.SUPERSAMPLE, studio.HEIGHT * studio.SUPERSAMPLE)


def differing(a: Image.Image, b: Image.Image, tolerance: int = 0) -> int:
    """How many pixels differ by more than ``tolerance`` in some channel."""
    histogram = ImageChops.difference(a, b).convert("L" if a.mode == "L" else "RGB").histogram()
    return sum(sum(histogram[band * 256 + tolerance + 1:(band + 1) * 256]) for band in range(len(a.getbands())))


@pytest.mark.parametrize(("azimuth", "elevation"), VIEWPOINTS)
def test_given_a_viewpoint_when_its_plan_is_made_then_every_shape_lies_inside_the_car_box(azimuth: float, elevation: float):
    seen = studio.make_view(azimuth, elevation)
    x0, y0, x1, y1 = seen.plan.bounds(studio.SUPERSAMPLE)
    width, height = (seen.box[2] - seen.box[0]) * studio.SUPERSAMPLE, (seen.box[3] - seen.box[1]) * studio.SUPERSAMPLE
    assert min(x0, y0) >= 0 and x1 <= width and y1 <= height


@pytest.mark.parametrize(("azimuth", "elevation"), VIEWPOINTS)
def test_given_a_viewpoint_when_drawn_in_its_box_then_the_body_is_the_one_a_whole_frame_drawing_shows(
    azimuth: float, elevation: float,
):
    _picture, mask = studio.render(studio.Scene(azimuth, elevation, (200, 0, 0)))
    whole = Image.new("RGB", SIZE)
    body = Image.new("L", SIZE, 0)
    camera = car_render.Camera(azimuth, elevation, size=SIZE)
    canvas = car_render.Canvas(ImageDraw.Draw(whole), camera, lambda colour, _normal: colour,
                               mask=ImageDraw.Draw(body), line_scale=studio.SUPERSAMPLE)
    car_render.draw_car(canvas, (200, 0, 0))
    expected = body.reduce(studio.SUPERSAMPLE)
    assert expected.getbbox() == mask.getbbox()
    assert differing(expected, mask, tolerance=64) <= 2, "at most a stray sub-pixel from rounding"


def test_given_the_camera_moved_to_a_corner_when_projecting_then_points_shift_by_that_corner():
    camera = car_render.Camera(45, viewpoint.EYE_LEVEL, size=SIZE)
    moved = camera.moved((100.0, 40.0))
    for point in [(2.27, 0.0, 0.52), (-2.24, 0.9, 1.2), (0.0, -1.07, 0.0)]:
        (x, y), (mx, my) = camera.project(point), moved.project(point)
        assert mx == pytest.approx(x - 100) and my == pytest.approx(y - 40)
    assert (moved.position, moved.forward, camera.offset) == (camera.position, camera.forward, (0.0, 0.0))


def test_given_a_kept_view_when_a_scene_is_drawn_again_then_it_is_the_picture_a_fresh_view_draws():
    scenes = [studio.Scene(135.0, viewpoint.EYE_LEVEL, (20, 130, 55), finish, "rear right") for finish in studio.FINISHES]
    fresh = []
    for scene in scenes:
        studio.VIEWS.clear()
        fresh.append(studio.render(scene))
    studio.VIEWS.clear()
    kept = [studio.render(scene) for scene in scenes]
    assert (studio.VIEWS.misses, studio.VIEWS.hits) == (1, len(scenes) - 1)
    for (picture, mask), (again, again_mask) in zip(fresh, kept, strict=True):
        assert picture.tobytes() == again.tobytes() and mask.tobytes() == again_mask.tobytes()


def test_given_an_angle_and_its_colours_when_generated_then_the_view_is_made_once_and_the_steady_rows_deflated_once():
    studio.VIEWS.clear()
    png.RUNS.clear()
    angle = model.generate(angle_prompt(), [("a", car_photo())]).data
    for value in ("Red #C00000 (metallic)", "Green #148237 (solid)", "White #F4F4F0 (pearlescent)"):
        model.generate(colour_prompt(value), [("a", angle)])
    assert studio.VIEWS.misses == 1
    assert png.RUNS.misses == 2, "the rows above and below the car, once for the angle and its colours"


def test_given_a_caption_when_drawn_from_its_kept_layer_then_it_matches_drawing_the_text_on_the_picture():
    lines = [("ANGLE · front right corner", 15), ("replicate stand-in · studio", 10)]
    drawn = studio.backdrop().copy()
    studio.caption(drawn, lines)
    expected = studio.backdrop().copy()  # as the studio drew it before: straight on the picture
    draw = ImageDraw.Draw(expected, "RGBA")
    boxes = [draw.textbbox((0, 0), text, font=studio._font(size)) for text, size in lines]
    heights = [int(box[3] - box[1]) + 4 for box in boxes]
    width = int(max(box[2] - box[0] for box in boxes)) + 16
    draw.rounded_rectangle((12, 12, 12 + width, 12 + sum(heights) + 16), radius=6, fill=(255, 255, 255, 200))
    cursor = 20
    for (text, size), box, line_h in zip(lines, boxes, heights, strict=True):
        draw.text((20 - box[0], cursor - box[1]), text, font=studio._font(size), fill=(40, 40, 46))
        cursor += line_h
    assert differing(drawn, expected, tolerance=2) == 0


def test_given_many_viewpoints_when_drawn_and_encoded_then_the_kept_pictures_stay_small():
    studio.VIEWS.clear()
    png.RUNS.clear()
    for azimuth in range(0, 360, 20):
        for body in ((200, 0, 0), (0, 0, 200)):
            scene = studio.Scene(float(azimuth), viewpoint.EYE_LEVEL, body, "gloss", f"view {azimuth}")
            model.encode(studio.render(scene)[0], "png", scene)
    views = [value for _key, value in studio.VIEWS._items.items()]
    runs = [value for _key, value in png.RUNS._items.items()]
    assert len(views) == studio.VIEW_ENTRIES and len(runs) <= png.RUN_ENTRIES
    kept = sum(4 * view.set.width * view.set.height for view in views)  # Pillow keeps RGB in 4 bytes
    kept += sum(len(run.pixels) + len(run.packed) for run in runs)
    assert kept < 10_000_000
