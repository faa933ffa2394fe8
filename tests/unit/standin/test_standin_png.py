"""The stand-in's own PNG writer: what Pillow (and so a browser) reads back is the picture, exactly,
with its text chunks; the rows kept between pictures of one viewpoint never change a picture."""

from __future__ import annotations

import io
import random
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from standin_testkit import angle_prompt, car_photo, colour_prompt

from replicate_standin import model, png, studio

pytestmark = pytest.mark.unit


def read(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as checked:
        checked.verify()  # chunk CRCs and structure
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def picture(seed: int = 1, size: tuple[int, int] = (96, 64), band: tuple[int, int] = (20, 40)) -> Image.Image:
    """A flat backdrop with random noise in the rows of ``band`` (like a car between steady rows)."""
    image = Image.new("RGB", size, (230, 232, 236))
    ImageDraw.Draw(image).rectangle((0, 0, size[0], 8), fill=(200, 180, 40))
    rng = random.Random(seed)
    noise = Image.frombytes("RGB", (size[0], band[1] - band[0]), rng.randbytes(size[0] * (band[1] - band[0]) * 3))
    image.paste(noise, (0, band[0]))
    return image


def test_given_an_rgb_picture_and_a_text_when_encoded_then_pillow_reads_back_the_exact_pixels_and_the_text():
    image = picture()
    data = png.encode(image, {"replicate-standin:scene": '{"v":1}', "Comment": "é latin-1"})
    back = read(data)
    assert data.startswith(png.SIGNATURE) and back.mode == "RGB" and back.size == image.size
    assert back.tobytes() == image.tobytes()
    assert back.info["replicate-standin:scene"] == '{"v":1}' and back.info["Comment"] == "é latin-1"


def test_given_a_greyscale_picture_when_encoded_then_it_reads_back_exactly():
    image = picture().convert("L")
    back = read(png.encode(image))
    assert back.mode == "L" and back.tobytes() == image.tobytes()


def test_given_a_text_beyond_latin_1_when_encoded_then_it_goes_in_an_itxt_chunk_pillow_reads():
    data = png.encode(picture(), {"label": "ANGLE · 前"})
    assert b"iTXt" in data and read(data).info["label"] == "ANGLE · 前"


def test_given_a_picture_with_an_alpha_channel_when_encoded_then_it_is_refused_and_the_model_falls_back_to_pillow():
    rgba = Image.new("RGBA", (8, 8), (1, 2, 3, 4))
    with pytest.raises(ValueError, match="RGBA"):
        png.encode(rgba)
    scene = studio.Scene(45.0, 7.0, (192, 0, 0))
    back = read(model.encode(rgba, "png", scene))
    assert back.tobytes() == rgba.tobytes() and model.scene_of(model.encode(rgba, "png", scene)) == scene


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=3000))
def test_given_two_byte_strings_when_their_adler32s_are_combined_then_it_is_the_adler32_of_both(first: bytes, second: bytes):
    assert png.adler32_combine(zlib.adler32(first), zlib.adler32(second), len(second)) == zlib.adler32(first + second)


def test_given_pictures_sharing_their_steady_rows_when_encoded_then_the_kept_runs_are_reused_and_each_reads_back_exactly():
    png.RUNS.clear()
    pictures = [picture(seed) for seed in range(3)]
    outputs = [png.encode(image, steady=("view", 20, 40)) for image in pictures]
    for image, data in zip(pictures, outputs, strict=True):
        assert read(data).tobytes() == image.tobytes()
    assert (png.RUNS.misses, png.RUNS.hits) == (2, 4), "the rows above and below deflated once"
    whole = png.encode(pictures[2])
    assert len(outputs[2]) < len(whole) * 1.1, "splicing costs next to nothing in size"


@pytest.mark.parametrize("band", [(0, 64), (0, 30), (30, 64), (30, 30), (-5, 99), (40, 20)])
def test_given_any_band_when_encoded_with_steady_rows_then_the_picture_reads_back_exactly(band: tuple[int, int]):
    png.RUNS.clear()
    for seed in (1, 2):
        image = picture(seed)
        assert read(png.encode(image, steady=("edges", *band))).tobytes() == image.tobytes()


def test_given_a_wrong_hint_when_the_steady_rows_differ_under_the_same_key_then_the_picture_is_still_exact():
    png.RUNS.clear()
    first, other = picture(1), picture(2, band=(0, 64))  # its "steady" rows are all different
    png.encode(first, steady=("same key", 20, 40))
    assert read(png.encode(other, steady=("same key", 20, 40))).tobytes() == other.tobytes()
    assert read(png.encode(first, steady=("same key", 20, 40))).tobytes() == first.tobytes()


def test_given_stand_in_pictures_when_encoded_then_they_are_no_larger_than_pillow_makes_them():
    angle = model.generate(angle_prompt(), [("a", car_photo())])
    outputs = [angle] + [model.generate(colour_prompt(value), [("a", angle.data)])
                         for value in ("Red #C00000 (metallic)", "White #F4F4F0 (pearlescent)", "Grey #5A5E62 (matte)")]
    for out in outputs:
        buffer = io.BytesIO()
        read(out.data).save(buffer, format="PNG", compress_level=1, compress_type=3)
        assert len(out.data) <= 1.1 * len(buffer.getvalue())
        assert model.scene_of(out.data) is not None
