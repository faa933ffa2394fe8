"""The colour check, pure: targets from hex, CSS names or neither; the body measured from what the
repaint changed (or, without a usable fed image, from what is not backdrop); the verdict against
the threshold; untrusted bytes are "unknown", never an exception."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from marketplace.color_check import OFF, OK, UNKNOWN, check_color, measure_body, parse_target
from marketplace.config import Settings

pytestmark = pytest.mark.unit

BACKDROP = (232, 232, 236)
TEAL = (30, 160, 150)


def picture(body: tuple[int, int, int], size: tuple[int, int] = (512, 384), shading: bool = True) -> bytes:
    """A studio-like picture: light backdrop, dark tyres and glass, a body in ``body`` paint whose
    faces are lit a little differently (a highlight band, a shadowed lower panel)."""
    image = Image.new("RGB", size, BACKDROP)
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rounded_rectangle((w * 0.12, h * 0.42, w * 0.88, h * 0.72), radius=12, fill=body)
    draw.polygon([(w * 0.3, h * 0.43), (w * 0.4, h * 0.28), (w * 0.62, h * 0.28), (w * 0.72, h * 0.43)], fill=(40, 44, 48))
    if shading:
        dark = tuple(int(c * 0.7) for c in body)
        draw.rectangle((w * 0.12, h * 0.62, w * 0.88, h * 0.72), fill=dark)  # lower panel in shade
        draw.rectangle((w * 0.14, h * 0.47, w * 0.86, h * 0.49), fill=(255, 255, 255))  # a reflection
    for x in (0.28, 0.72):
        draw.ellipse((w * x - 40, h * 0.62, w * x + 40, h * 0.62 + 80), fill=(18, 18, 20))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# ------------------------------------------------------------------ targets


@pytest.mark.parametrize(
    ("value", "target"),
    [
        ("Red #C00000 (metallic)", "#c00000"),
        ("British racing green #004225 (gloss)", "#004225"),
        ("Short #F0a (metallic)", "#ff00aa"),
        ("Red Metallic", "#ff0000"),
        ("Grey Matte", "#808080"),
        ("dark slate grey, satin", "#2f4f4f"),
        ("Rebecca Purple wrap", "#663399"),
        ("midnight chrome wrap", None),
        ("transparent clear coat", None),
        ("", None),
        (None, None),
    ],
)
def test_given_a_colour_prompt_value_when_its_target_is_read_then_hex_wins_then_css_names_else_none(
    value: str | None, target: str | None
):
    assert parse_target(value) == target


# ------------------------------------------------------------------ measuring and verdicts


def test_given_a_repainted_body_when_measured_against_the_fed_picture_then_the_paint_is_the_body_colour():
    measured = measure_body(picture((192, 0, 0)), picture(TEAL))
    assert measured is not None and abs(measured[0] - 192) <= 8 and measured[1] <= 8 and measured[2] <= 8


@pytest.mark.parametrize("paint", [(192, 0, 0), (10, 10, 10), (244, 244, 240), (0, 66, 37), (245, 196, 0)])
def test_given_the_asked_paint_when_checked_then_ok_and_a_far_paint_then_off(paint: tuple[int, int, int]):
    hex_value = "#{:02X}{:02X}{:02X}".format(*paint)
    ok = check_color(f"Paint {hex_value} (metallic)", picture(paint), picture(TEAL), 10)
    assert (ok.verdict, ok.target) == (OK, hex_value.lower()) and ok.delta_e is not None and ok.delta_e <= 10
    off = check_color(f"Paint {hex_value}", picture((40, 90, 200) if paint[2] < 150 else (150, 60, 20)), picture(TEAL), 10)
    assert off.verdict == OFF and off.delta_e is not None and off.delta_e > 10


def test_given_a_check_when_viewed_then_it_has_the_four_fields_with_hex_and_one_decimal():
    view = check_color("Red #C00000", picture((200, 10, 10)), picture(TEAL), 10).as_view()
    assert set(view) == {"target", "measured", "deltaE", "verdict"}
    assert view["target"] == "#c00000" and len(view["measured"]) == 7 and view["measured"].startswith("#")
    assert round(view["deltaE"], 1) == view["deltaE"]


def test_given_a_threshold_when_the_difference_is_between_then_the_threshold_decides():
    result = check_color("Red #C00000", picture((176, 20, 10)), picture(TEAL), 10)
    assert result.delta_e is not None and result.delta_e > 1
    assert check_color("Red #C00000", picture((176, 20, 10)), picture(TEAL), result.delta_e - 0.2).verdict == OFF
    assert check_color("Red #C00000", picture((176, 20, 10)), picture(TEAL), result.delta_e).verdict == OK


def test_given_the_same_paint_as_the_fed_car_when_checked_then_the_body_is_found_without_a_difference():
    result = check_color("Teal #1EA096", picture(TEAL), picture(TEAL), 10)
    assert result.verdict == OK


def test_given_no_fed_picture_or_one_of_another_shape_when_checked_then_the_body_is_what_is_not_backdrop():
    assert check_color("Red #C00000", picture((192, 0, 0)), None, 10).verdict == OK
    other_shape = picture(TEAL, size=(300, 300))
    assert check_color("Red #C00000", picture((192, 0, 0)), other_shape, 10).verdict == OK


def test_given_a_colour_naming_no_target_when_checked_then_unknown_with_the_measured_paint():
    result = check_color("Midnight chrome wrap", picture((192, 0, 0)), picture(TEAL), 10)
    assert (result.verdict, result.target, result.delta_e) == (UNKNOWN, None, None)
    assert result.measured is not None and result.reason


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header that claims a size; the data is nonsense."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"garbage") + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "output",
    [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, _png_claiming(100_000, 100_000), _png_claiming(64, 48)],
    ids=["empty", "text", "broken-png", "bomb", "truncated"],
)
def test_given_untrusted_bytes_that_are_no_usable_image_when_checked_then_unknown_never_an_exception(output: bytes):
    result = check_color("Red #C00000", output, picture(TEAL), 10)
    assert (result.verdict, result.measured, result.delta_e) == (UNKNOWN, None, None)
    assert result.target == "#c00000" and result.reason


def test_given_a_blank_picture_when_checked_then_no_body_is_found_and_the_verdict_is_unknown():
    blank = io.BytesIO()
    Image.new("RGB", (320, 240), BACKDROP).save(blank, format="PNG")
    result = check_color("Red #C00000", blank.getvalue(), blank.getvalue(), 10)
    assert result.verdict == UNKNOWN and result.measured is None


def test_given_an_unreadable_fed_picture_when_checked_then_the_output_is_measured_without_it():
    assert check_color("Red #C00000", picture((192, 0, 0)), b"garbage", 10).verdict == OK


# ------------------------------------------------------------------ the setting


def test_given_no_threshold_in_the_environment_when_settings_are_read_then_the_default_is_10():
    assert Settings.from_environ({"TABLE_NAME": "t"}).color_check_max_delta_e == 10


@pytest.mark.parametrize("raw", ["0", "-3", "101", "nan"])
def test_given_a_threshold_out_of_range_when_settings_are_read_then_they_are_refused(raw: str):
    with pytest.raises(ValueError):
        Settings.from_environ({"TABLE_NAME": "t", "COLOR_CHECK_MAX_DELTA_E": raw})


def test_given_a_threshold_when_settings_are_read_then_it_is_used():
    assert Settings.from_environ({"TABLE_NAME": "t", "COLOR_CHECK_MAX_DELTA_E": "6.5"}).color_check_max_delta_e == 6.5
