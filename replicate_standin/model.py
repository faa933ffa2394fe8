"""The stand-in "model": real studio-style PNGs made with Pillow (no numpy).

``generate()`` is synchronous and CPU-bound; the service runs it in a worker thread.

Which job a prompt is (``classify``):

* **colorization** when there is exactly one input image AND the prompt either contains a
  ``#RRGGBB`` (or ``#RGB``) hex colour, or contains a repaint *instruction* (``repaint``,
  ``recolour``/``recolor``, ``paint the/it/this ...``, ``change the paint/colour``) together
  with a known colour name (red, blue, green, black, white, silver, grey/gray, yellow, orange
  and a few more, see ``NAMED_COLOURS``). The target is the first hex; without one, the first
  colour name after the instruction, preferring one introduced by "in"/"to"/"into" ("repaint
  the white car in metallic blue" → blue), else the first colour name anywhere.
* **angle generation** otherwise (any number of images, including none).

Bare words such as "paint", "colour" or "grey" are deliberately not enough: the project's
angle template says "reflections on the paint", "true-to-life colours" and "light grey studio
backdrop", and a dealer may upload a single photo, so a looser rule would repaint angle jobs.

Angle output: the car of ``car_render`` (the renderer that drew the sample photos) seen from
the viewpoint the prompt names (``viewpoint.view_of``: degrees, else front / rear / side /
left / right / overhead words), as a studio shot (``studio``), in the paint measured in the
sources (``photo_paint.measure_paint``, the per-channel median over the sources; a text-only
prompt: the colour it names). Always 640x480; the scene is kept in a PNG text chunk.

Colour output: a stand-in picture (it carries its scene) is drawn again with the body in the
target colour and the finish the prompt names (``viewpoint.finish_of``: metallic, pearl, matte,
chrome, else gloss): only the body changes. With the ``drift`` fault the paint is
``viewpoint.drifted`` (plainly off the target) instead. Any other input is repainted pixel by
pixel (``photo_paint.colorize``); same size as the input, shrunk to fit 640x480.

Cost (the stand-in runs beside the whole stack on 2 cores, so its CPU is the product's): each
distinct input is decoded once and kept, shrunk to fit the output, in a small LRU keyed by its
SHA-256 (every angle of a car reuses the same photos), and so is the paint measured in it; a
studio shot's set (backdrop and contact shadow) and the car's projected shapes are made once per
viewpoint (``studio.VIEWS``) and only the car's box is drawn at twice the size and halved; PNGs
are written by ``png`` (unfiltered rows, zlib level 1, the rows above and below the car deflated
once per viewpoint). Figures: the stand-in README, ``benchmarks/standin_render.py``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from dataclasses import dataclass, replace
from typing import Literal

from PIL import Image, ImageOps

from . import photo_paint, png, studio, viewpoint
from .lru import LRU

WIDTH, HEIGHT = studio.WIDTH, studio.HEIGHT
CACHE_ENTRIES = 16
"""Decoded inputs kept (each at most WIDTH x HEIGHT x 3 bytes: under 15 MB in all). A batch's
inputs come in bursts (its photos for every angle, an angle's image for all its colours), so a
few entries catch them; 48 held 45 MB of a 30 x 40 batch's stand-in for no more hits."""

NAMED_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (192, 0, 0),
    "blue": (22, 64, 200),
    "green": (20, 130, 55),
    "black": (16, 16, 18),
    "white": (246, 246, 246),
    "silver": (194, 196, 200),
    "grey": (128, 128, 130),
    "gray": (128, 128, 130),
    "yellow": (242, 200, 0),
    "orange": (240, 118, 0),
    "purple": (112, 40, 160),
    "brown": (110, 70, 40),
    "gold": (205, 165, 60),
    "beige": (222, 202, 160),
    "pink": (232, 120, 172),
    "navy": (20, 32, 96),
    "maroon": (112, 12, 32),
    "teal": (0, 128, 128),
    "bronze": (150, 100, 50),
}

_HEX_RE = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})(?![0-9a-zA-Z])")
_PAINT_RE = re.compile(
    r"\b(?:re-?paint|recolou?r|paint\s+(?:the|it|this|her|his|its)\b"
    r"|change\s+(?:the\s+|its\s+)?(?:paint|colou?r))",
    re.IGNORECASE,
)
_COLOUR_NAME_RE = re.compile(r"\b(" + "|".join(NAMED_COLOURS) + r")\b", re.IGNORECASE)
_COLOUR_TARGET_RE = re.compile(
    r"\b(?:in|to|into)\s+(?:(?:a|an|the)\s+)?(?:[a-z-]+\s+){0,2}?(" + "|".join(NAMED_COLOURS) + r")\b",
    re.IGNORECASE,
)
_ANGLE_AFTER_KEY_RE = re.compile(r"\bangle\s*[:=]\s*([^.;,\n]{1,60})", re.IGNORECASE)
_ANGLE_FROM_RE = re.compile(
    r"\bfrom\s+(?:the\s+|a\s+|an\s+)?([^.;,:]{2,50}?)\s+(?:angle|view|perspective)\b",
    re.IGNORECASE,
)
_LABEL_LENGTH = 40


class ModelError(Exception):
    """The prediction fails with ``str(error)`` as its Replicate ``error``."""


@dataclass(frozen=True)
class Job:
    """What the model will do for a prompt (see the module docstring for the rule)."""

    kind: Literal["angle", "color"]
    label: str
    """Angle label (angle jobs) or colour label (colour jobs), for the corner text."""
    color: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Output:
    data: bytes
    content_type: str
    filename: str
    job: Job
    size: tuple[int, int]


def classify(prompt: str, image_count: int) -> Job:
    """Decide between colorization and angle generation (documented rule above)."""
    target = find_colour(prompt)
    instructed = _HEX_RE.search(prompt) is not None or _PAINT_RE.search(prompt) is not None
    if image_count == 1 and target is not None and instructed:
        return Job(kind="color", label=target[0], color=target[1])
    return Job(kind="angle", label=angle_label(prompt), color=target[1] if target else None)


def find_colour(prompt: str) -> tuple[str, tuple[int, int, int]] | None:
    """The target colour of a prompt as ``(label, rgb)``: a hex first, else a colour name."""
    hex_match = _HEX_RE.search(prompt)
    if hex_match is not None:
        digits = hex_match.group(1)
        if len(digits) == 3:
            digits = "".join(ch * 2 for ch in digits)
        rgb = (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
        return "#" + digits.upper(), rgb
    paint = _PAINT_RE.search(prompt)
    start = paint.end() if paint else 0
    name = _COLOUR_TARGET_RE.search(prompt, start) or _COLOUR_NAME_RE.search(prompt, start) or _COLOUR_NAME_RE.search(prompt)
    if name is None:
        return None
    word = name.group(1).lower()
    return word, NAMED_COLOURS[word]


def angle_label(prompt: str) -> str:
    """A short readable angle label: text after ``angle:``, ``from the X view/angle``, or
    the first 40 characters of the prompt."""
    text = " ".join(prompt.split())
    for pattern in (_ANGLE_AFTER_KEY_RE, _ANGLE_FROM_RE):
        match = pattern.search(text)
        if match:
            return _clip(match.group(1).strip(" \"'"))
    return _clip(text) or "studio shot"


def _clip(text: str) -> str:
    return text if len(text) <= _LABEL_LENGTH else text[: _LABEL_LENGTH - 1].rstrip() + "…"


# --------------------------------------------------------------------------- decoding


def decode_image(data: bytes, source: str, max_pixels: int, draft: tuple[int, int] = (WIDTH, HEIGHT)) -> Image.Image:
    """Bytes → RGB image (EXIF orientation applied, transparency on white), or ModelError.

    JPEGs are decoded at the smallest 1/2^n scale still at least ``draft`` (much faster).
    """
    try:
        opened = Image.open(io.BytesIO(data))
        width, height = opened.size
        if width * height > max_pixels:
            raise ModelError(f"Image {source} is too large: {width}x{height} pixels (limit {max_pixels} pixels)")
        opened.draft("RGB", draft)
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return image.convert("RGB")
    except ModelError:
        raise
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ModelError(f"Failed to read image {source}: {exc}") from exc


_DECODED: LRU[tuple[bytes, int], Image.Image] = LRU(CACHE_ENTRIES)


_PAINT: LRU[tuple[bytes, int], tuple[int, int, int]] = LRU(CACHE_ENTRIES)
"""The paint measured in each input (the same for every angle of a car)."""


def input_key(data: bytes, max_pixels: int) -> tuple[bytes, int]:
    """What the per-input caches are keyed by: the content's SHA-256 (whatever its URL)."""
    return hashlib.sha256(data).digest(), max_pixels


def load_image(data: bytes, source: str, max_pixels: int, key: tuple[bytes, int] | None = None) -> Image.Image:
    """``decode_image`` shrunk to fit WIDTH x HEIGHT, decoded once per distinct content (the
    same bytes under another URL are a hit; ``key``: ``input_key``, if already known). The
    result is shared: never change it in place."""

    def make() -> Image.Image:
        image = decode_image(data, source, max_pixels)
        if image.width > WIDTH or image.height > HEIGHT:
            image.thumbnail((WIDTH, HEIGHT), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return image

    return _DECODED.get(key or input_key(data, max_pixels), make)


# --------------------------------------------------------------------------- generation


def generate(
    prompt: str,
    sources: list[tuple[str, bytes]],
    output_format: str = "png",
    max_pixels: int = 40_000_000,
    drift: bool = False,
) -> Output:
    """Run the model on already downloaded ``(url, bytes)`` sources; ``drift`` (the fault) paints
    a colour job plainly off its target."""
    job = classify(prompt, len(sources))
    keys = [input_key(data, max_pixels) for _, data in sources]
    images = [load_image(data, url, max_pixels, key) for (url, data), key in zip(sources, keys, strict=True)]
    scene: studio.Scene | None = None
    if job.kind == "color":
        assert job.color is not None
        paint = viewpoint.drifted(job.color) if drift else job.color
        fed = scene_of(sources[0][1])
        if fed is not None:
            scene = fed.repainted(paint, viewpoint.finish_of(prompt))
            result, _mask = studio.render(scene)
        else:
            result = photo_paint.colorize(images[0], paint, cache_key=keys[0])
    else:
        view = viewpoint.view_of(prompt)
        scene = studio.Scene(view.azimuth, view.elevation, source_paint(images, keys, prompt), "gloss", job.label)
        result, _mask = studio.render(scene)
    return Output(
        data=encode(result, output_format, scene),
        content_type="image/jpeg" if output_format == "jpg" else "image/png",
        filename="output.jpg" if output_format == "jpg" else "output.png",
        job=replace(job, color=paint) if job.kind == "color" else job,
        size=result.size,
    )


def source_paint(images: list[Image.Image], keys: list[tuple[bytes, int]], prompt: str) -> tuple[int, int, int]:
    """The car's own paint: the per-channel median of the paint measured in each source (each
    measured once); without sources, the colour the prompt names (else a neutral blue)."""
    if not images:
        named = find_colour(prompt)
        return named[1] if named else photo_paint.UNKNOWN_PAINT
    paints = [_PAINT.get(key, functools.partial(photo_paint.measure_paint, image))
              for image, key in zip(images, keys, strict=True)]
    red, green, blue = (sorted(channel)[len(channel) // 2] for channel in zip(*paints, strict=True))
    return red, green, blue


def scene_of(data: bytes) -> studio.Scene | None:
    """The scene a stand-in picture carries (its PNG text chunk), else None."""
    if not data.startswith(b"\x89PNG"):
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:  # text chunks before the image data: no decoding
            text = image.info.get(studio.SCENE_KEY)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None
    return studio.Scene.from_text(text) if isinstance(text, str) else None


def encode(image: Image.Image, output_format: str, scene: studio.Scene | None = None) -> bytes:
    buffer = io.BytesIO()
    if output_format == "jpg":
        image.save(buffer, format="JPEG", quality=90)
    elif image.mode in ("RGB", "L"):
        # Unfiltered rows at zlib level 1 (``png``): as small as Pillow's compress_level 1 and a
        # third of its time (Pillow tries five row filters on every row); a studio shot's rows
        # above and below the car are deflated once per viewpoint.
        if scene is None:
            return png.encode(image)
        return png.encode(image, {studio.SCENE_KEY: scene.to_text()}, steady=studio.steady_rows(scene))
    else:
        image.save(buffer, format="PNG", compress_level=1, pnginfo=studio.png_info(scene) if scene is not None else None)
    return buffer.getvalue()
