"""The stand-in "model": which job a prompt is, and what the images look like."""

from __future__ import annotations

import io
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageStat
from standin_testkit import angle_prompt, car_photo, colour_counts, colour_prompt

from replicate_standin import model

pytestmark = pytest.mark.unit


def png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ------------------------------------------------------------------ the colour-vs-angle rule


def test_given_the_real_colour_template_and_one_image_when_classified_then_it_is_a_colour_job_with_the_hex():
    job = model.classify(colour_prompt("Red #C00000 (metallic)"), 1)
    assert job.kind == "color"
    assert job.color == (192, 0, 0)
    assert job.label == "#C00000"


def test_given_the_real_angle_template_and_a_single_photo_when_classified_then_it_stays_an_angle_job():
    # The template mentions "paint", "colours" and "light grey": none of them is an instruction.
    job = model.classify(angle_prompt("straight-on front view, camera centred on the grille"), 1)
    assert job.kind == "angle"
    assert job.label == "straight-on front view"


def test_given_a_colour_prompt_with_several_images_when_classified_then_it_is_an_angle_job():
    assert model.classify(colour_prompt(), 3).kind == "angle"


def test_given_a_repaint_instruction_with_a_colour_name_when_classified_then_the_named_colour_is_the_target():
    job = model.classify("Repaint the white car in metallic blue, keep the black trim", 1)
    assert job.kind == "color"
    assert job.label == "blue"
    assert job.color == model.NAMED_COLOURS["blue"]


def test_given_a_short_hex_when_classified_then_it_is_expanded():
    job = model.classify("make it #f00", 1)
    assert (job.kind, job.label, job.color) == ("color", "#FF0000", (255, 0, 0))


def test_given_a_colour_name_without_an_instruction_when_classified_then_it_is_an_angle_job():
    assert model.classify("a red car seen from the rear view", 1).kind == "angle"


@pytest.mark.parametrize(
    ("prompt", "label"),
    [
        ("Render the car. angle: rear three-quarter, low camera", "rear three-quarter"),
        ("Show the car from the left side view please", "left side"),
        (
            "Studio photograph of a hatchback with soft light and a long description",
            "Studio photograph of a hatchback with s…",
        ),
    ],
)
def test_given_angle_prompts_when_labelled_then_a_short_readable_label_is_extracted(prompt: str, label: str):
    assert model.angle_label(prompt) == label


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=4))
def test_given_any_prompt_when_classified_then_the_label_is_short_and_colour_jobs_have_one_image(prompt: str, count: int):
    job = model.classify(prompt, count)
    assert len(job.label) <= 40
    if job.kind == "color":
        assert count == 1 and job.color is not None


# ------------------------------------------------------------------ the images


def test_given_several_dark_photos_when_an_angle_is_generated_then_a_bright_1024x768_studio_png_comes_out():
    sources = [(f"http://images.test/{i}.jpg", car_photo(size=(1200 + 80 * i, 900))) for i in range(3)]
    out = model.generate(angle_prompt(), sources)
    image = png(out.data).convert("L")
    assert (out.job.kind, out.size, image.size) == ("angle", (1024, 768), (1024, 768))
    assert out.content_type == "image/png" and out.filename == "output.png"
    # The light studio backdrop: the top corners are light grey, much brighter than the photos.
    assert image.getpixel((1010, 110)) > 200 and image.getpixel((5, 400)) > 200
    source_mean = ImageStat.Stat(Image.open(io.BytesIO(sources[0][1])).convert("L")).mean[0]
    assert ImageStat.Stat(image).mean[0] > source_mean + 60


def test_given_two_angle_prompts_when_generated_then_the_pictures_differ():
    sources = [("a", car_photo()), ("b", car_photo(colour=(30, 140, 60)))]
    first = model.generate(angle_prompt("straight-on front view"), sources).data
    second = model.generate(angle_prompt("full left side profile at 270 degrees"), sources).data
    assert zlib.crc32(first) != zlib.crc32(second)


def test_given_a_blue_car_when_repainted_with_a_red_hex_then_the_body_is_red_and_the_backdrop_is_kept():
    angle = model.generate(angle_prompt(), [("a", car_photo())]).data
    before = colour_counts(angle)
    assert before["blue"] > 0.05 and before["red"] < 0.01

    out = model.generate(colour_prompt("Red #C00000 (metallic)"), [("angle", angle)])
    after = colour_counts(out.data)
    assert out.job.kind == "color" and png(out.data).size == (1024, 768)
    assert after["red"] > 0.05
    assert after["blue"] < after["red"] / 20
    # Unsaturated backdrop pixels are kept exactly.
    original, repainted = png(angle).convert("RGB"), png(out.data).convert("RGB")
    assert original.getpixel((1010, 150)) == repainted.getpixel((1010, 150))


def test_given_the_same_source_when_angle_and_colour_outputs_are_made_then_they_differ():
    photo = car_photo()
    angle = model.generate(angle_prompt(), [("a", photo)]).data
    colour = model.generate(colour_prompt("Yellow #F5C400 (solid gloss)"), [("a", angle)]).data
    assert angle != colour
    assert png(colour).size == png(angle).size


def test_given_a_white_target_when_repainting_then_the_body_loses_its_colour():
    angle = model.generate(angle_prompt(), [("a", car_photo())]).data
    out = model.generate(colour_prompt("White #F4F4F0 (pearlescent)"), [("a", angle)]).data
    assert colour_counts(out)["blue"] < 0.005


def test_given_a_large_photo_when_colourised_directly_then_it_is_shrunk_to_fit_1024x768():
    out = model.generate("Repaint it in green", [("a", car_photo(size=(2000, 1000)))])
    assert out.job.kind == "color"
    assert out.size == (1024, 512)


def test_given_jpg_output_format_when_generated_then_a_jpeg_comes_out():
    out = model.generate("angle: front", [("a", car_photo())], output_format="jpg")
    assert out.data[:3] == b"\xff\xd8\xff"
    assert (out.content_type, out.filename) == ("image/jpeg", "output.jpg")


def test_given_no_image_when_generated_then_a_drawn_car_in_the_named_colour_comes_out():
    out = model.generate("a red hatchback from the side view", [])
    assert out.job.kind == "angle" and out.size == (1024, 768)
    assert colour_counts(out.data)["red"] > 0.05


def test_given_bytes_that_are_not_an_image_when_generated_then_a_model_error_names_the_source():
    with pytest.raises(model.ModelError, match=r"Failed to read image http://images.test/x.jpg"):
        model.generate(angle_prompt(), [("http://images.test/x.jpg", b"<html>nope</html>")])


def test_given_an_image_over_the_pixel_limit_when_generated_then_a_model_error_says_too_large():
    with pytest.raises(model.ModelError, match="too large"):
        model.generate(angle_prompt(), [("big", car_photo(size=(400, 300)))], max_pixels=100_000)


def test_given_a_transparent_png_when_decoded_then_it_is_flattened_on_white():
    image = Image.new("RGBA", (64, 48), (0, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    decoded = model.decode_image(buffer.getvalue(), "t.png", 10_000)
    assert decoded.mode == "RGB" and decoded.getpixel((0, 0)) == (255, 255, 255)
