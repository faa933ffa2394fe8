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

Angle output: the sources are brightened and auto-contrasted; one of them (chosen by a
stable hash of the angle label, so different angles give different pictures) is the hero,
feathered onto a light-grey studio backdrop with a soft floor shadow; the others appear as
small thumbnails bottom right; the angle label is written top left. Always 640x480.

Colour output: the saturated, not-too-dark pixels (the car body) get the target hue and
saturation and have their brightness rescaled toward the target's; unsaturated backdrop
pixels are kept. If almost nothing is saturated (a white/grey/black car), the mask falls back
to "differs from the border colour". The colour is written bottom left. Same size as the
input, shrunk to fit 640x480.

Cost (the stand-in runs beside the whole stack on 2 cores, so its CPU is the product's): outputs
are 640x480 (a quarter of the pixels of 1024x768, still far above what a thumbnail or a check
needs); each distinct input is decoded once and kept, shrunk to fit the output, in a small LRU
keyed by its SHA-256 (every angle of a car reuses the same photos, every colour of an angle the
same angle image), and so is a colour job's per-input work (HSV split, body mask), so the colours
of one angle only repaint and encode. PNGs use compress_level 1. About 10-13 ms of CPU per
output instead of about 62 ms (figures in the stand-in README).
"""

from __future__ import annotations

import colorsys
import functools
import hashlib
import io
import re
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

WIDTH, HEIGHT = 640, 480
_SCALE = WIDTH / 1024  # the layout was drawn for 1024x768
CACHE_ENTRIES = 48
"""Decoded inputs kept (each at most WIDTH x HEIGHT x 3 bytes: under 45 MB in all), and as many
colour preparations (about twice that each)."""

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


K = TypeVar("K")
V = TypeVar("V")


class LRU(Generic[K, V]):
    """A small thread-safe least-recently-used cache (the model runs in a thread pool)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, key: K, make: Callable[[], V]) -> V:
        """The cached value, or ``make()`` (outside the lock; errors are not cached)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key]
            self.misses += 1
        value = make()
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


_DECODED: LRU[tuple[bytes, int], Image.Image] = LRU(CACHE_ENTRIES)


_LIT: LRU[tuple[tuple[bytes, int], str], Image.Image] = LRU(CACHE_ENTRIES)
"""An input's lit hero and lit thumbnail (the same for every angle of a car)."""


def load_image(data: bytes, source: str, max_pixels: int) -> Image.Image:
    """``decode_image`` shrunk to fit WIDTH x HEIGHT, decoded once per distinct content (the
    same bytes under another URL are a hit). The result is shared: never change it in place."""

    def make() -> Image.Image:
        image = decode_image(data, source, max_pixels)
        if image.width > WIDTH or image.height > HEIGHT:
            image.thumbnail((WIDTH, HEIGHT), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return image

    return _DECODED.get((hashlib.sha256(data).digest(), max_pixels), make)


# --------------------------------------------------------------------------- generation


def generate(
    prompt: str,
    sources: list[tuple[str, bytes]],
    output_format: str = "png",
    max_pixels: int = 40_000_000,
) -> Output:
    """Run the model on already downloaded ``(url, bytes)`` sources."""
    job = classify(prompt, len(sources))
    images = [load_image(data, url, max_pixels) for url, data in sources]
    keys = [(hashlib.sha256(data).digest(), max_pixels) for _, data in sources]
    if job.kind == "color":
        assert job.color is not None
        result = colorize(images[0], job.color, job.label, cache_key=keys[0])
    else:
        result = compose_angle(images, job.label, prompt, cache_keys=keys)
    return Output(
        data=encode(result, output_format),
        content_type="image/jpeg" if output_format == "jpg" else "image/png",
        filename="output.jpg" if output_format == "jpg" else "output.png",
        job=job,
        size=result.size,
    )


def encode(image: Image.Image, output_format: str) -> bytes:
    buffer = io.BytesIO()
    if output_format == "jpg":
        image.save(buffer, format="JPEG", quality=90)
    else:
        # compress_level=1: 3-4x faster than the default for ~25% more bytes; the RLE strategy
        # (3) costs the same and saves another ~20% on the flat studio backdrop.
        image.save(buffer, format="PNG", compress_level=1, compress_type=3)
    return buffer.getvalue()


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _px(value: float) -> int:
    """A length of the 1024x768 layout at the output size."""
    return max(1, round(value * _SCALE))


@functools.lru_cache(maxsize=1)
def _backdrop() -> Image.Image:
    """Light-grey studio sweep: a wall darkening toward the horizon, a lit floor."""
    horizon = int(HEIGHT * 0.62)
    column = []
    for y in range(HEIGHT):
        if y < horizon:
            column.append(238 - (16 * y) // horizon)
        else:
            column.append(222 + (24 * (y - horizon)) // (HEIGHT - horizon))
    strip = Image.new("L", (1, HEIGHT))
    strip.putdata(column)
    grey = strip.resize((WIDTH, HEIGHT), Image.Resampling.NEAREST)
    cool = grey.point(lambda v: min(255, v + 3))
    warm = grey.point(lambda v: max(0, v - 2))
    return Image.merge("RGB", (warm, grey, cool))


_GAMMA_LUT = [min(255, int(255 * (i / 255) ** 0.8 + 0.5)) for i in range(256)] * 3


def _studio_light(image: Image.Image) -> Image.Image:
    """Auto-contrast then lift the shadows (gamma 0.8): poorly lit photos come out bright."""
    return ImageOps.autocontrast(image, cutoff=1, preserve_tone=True).point(_GAMMA_LUT)


@functools.lru_cache(maxsize=16)
def _feather_mask(size: tuple[int, int], radius_fraction: float = 0.06) -> Image.Image:
    """A rounded rectangle with soft edges (drawn at 1/4 scale, blurred, scaled up)."""
    width, height = size
    small = (max(4, width // 4), max(4, height // 4))
    inset = max(1, int(min(small) * radius_fraction))
    mask = Image.new("L", small, 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (inset, inset, small[0] - 1 - inset, small[1] - 1 - inset),
        radius=inset * 2,
        fill=255,
    )
    return mask.filter(ImageFilter.GaussianBlur(inset * 0.8)).resize(size, Image.Resampling.BILINEAR)


def _floor_shadow(canvas: Image.Image, centre_x: int, floor_y: int, width: int) -> None:
    height = max(24, width // 9)
    scale = 4
    box_w, box_h = width + height * 2, height * 3
    small = Image.new("L", (box_w // scale, box_h // scale), 0)
    ImageDraw.Draw(small).ellipse(
        (height // scale, height // scale, (box_w - height) // scale, (2 * height) // scale),
        fill=120,
    )
    mask = small.filter(ImageFilter.GaussianBlur(height / scale / 2.5)).resize((box_w, box_h), Image.Resampling.BILINEAR)
    canvas.paste((70, 70, 74), (centre_x - box_w // 2, floor_y - box_h // 2), mask)


def _pill(
    canvas: Image.Image,
    xy: tuple[int, int],
    lines: list[tuple[str, int]],
    swatch: tuple[int, int, int] | None = None,
    anchor_bottom: bool = False,
) -> None:
    """Text lines on a translucent white rounded box (at ``xy``; bottom-left if anchor_bottom)."""
    draw = ImageDraw.Draw(canvas, "RGBA")
    pad = _px(12)
    swatch_size = _px(28) if swatch else 0
    lines = [(text, max(11, _px(size))) for text, size in lines]
    boxes = [tuple(int(v) for v in draw.textbbox((0, 0), text, font=_font(size))) for text, size in lines]
    text_w = max(box[2] - box[0] for box in boxes)
    heights = [box[3] - box[1] + _px(6) for box in boxes]
    width = text_w + 2 * pad + (swatch_size + _px(10) if swatch else 0)
    height = max(sum(heights), swatch_size) + 2 * pad
    x, y = xy
    if anchor_bottom:
        y -= height
    draw.rounded_rectangle((x, y, x + width, y + height), radius=_px(10), fill=(255, 255, 255, 200))
    text_x = x + pad
    if swatch:
        top = y + (height - swatch_size) // 2
        draw.rounded_rectangle(
            (x + pad, top, x + pad + swatch_size, top + swatch_size),
            radius=_px(5),
            fill=swatch,
            outline=(60, 60, 60),
        )
        text_x += swatch_size + _px(10)
    cursor = y + pad
    for (text, size), box, line_h in zip(lines, boxes, heights, strict=True):
        draw.text((text_x, cursor - box[1]), text, font=_font(size), fill=(40, 40, 46))
        cursor += line_h


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _lit_hero(image: Image.Image) -> Image.Image:
    return _studio_light(ImageOps.contain(image, (_px(880), _px(560)), Image.Resampling.BILINEAR))  # up or down


def _lit_thumb(image: Image.Image) -> Image.Image:
    thumb = image.copy()
    thumb.thumbnail((_px(112), _px(76)), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return ImageOps.expand(_studio_light(thumb), border=_px(3), fill=(255, 255, 255))


def compose_angle(
    images: list[Image.Image],
    label: str,
    prompt: str,
    cache_keys: list[tuple[bytes, int]] | None = None,
) -> Image.Image:
    """The angle shot (see the module docstring). With ``cache_keys`` (the inputs' digests)
    each input's lit hero and thumbnail are made once for every angle."""

    def lit(index: int, kind: str, make: Callable[[Image.Image], Image.Image]) -> Image.Image:
        if cache_keys is None:
            return make(images[index])
        return _LIT.get((cache_keys[index], kind), functools.partial(make, images[index]))

    canvas = _backdrop().copy()
    floor_y = HEIGHT - _px(120)
    digest = _stable_hash(label)
    if images:
        hero_index = digest % len(images)
        hero = lit(hero_index, "hero", _lit_hero)
        if (digest >> 8) & 1 and "left" not in prompt.lower() and "right" not in prompt.lower():
            hero = ImageOps.mirror(hero)
        left = (WIDTH - hero.width) // 2
        top = floor_y - hero.height + _px(12)
        _floor_shadow(canvas, WIDTH // 2, floor_y + _px(6), int(hero.width * 0.95))
        canvas.paste(hero, (left, top), _feather_mask(hero.size))
        others = [i for i in range(len(images)) if i != hero_index][:6]
        x = WIDTH - _px(16)
        for other in others:
            thumb = lit(other, "thumb", _lit_thumb)
            x -= thumb.width
            canvas.paste(thumb, (x, HEIGHT - _px(16) - thumb.height))
            x -= _px(8)
    else:
        _floor_shadow(canvas, WIDTH // 2, floor_y + _px(6), _px(700))
        _draw_car(canvas, floor_y, _colour_for_text_only(prompt))
    count = len(images)
    _pill(
        canvas,
        (_px(20), _px(20)),
        [
            (f"ANGLE · {label}", 24),
            (f"{count} source photo{'s' if count != 1 else ''} · replicate stand-in", 15),
        ],
    )
    return canvas


def _colour_for_text_only(prompt: str) -> tuple[int, int, int]:
    found = find_colour(prompt)
    return found[1] if found else (52, 78, 120)


def _draw_car(canvas: Image.Image, floor_y: int, colour: tuple[int, int, int]) -> None:
    """A simple side-view car for text-only prompts (no input image)."""
    draw = ImageDraw.Draw(canvas)
    cx = WIDTH // 2
    p = _px
    body_top = floor_y - p(170)
    draw.rounded_rectangle((cx - p(330), body_top, cx + p(330), floor_y - p(50)), radius=p(40), fill=colour)
    draw.polygon(
        [
            (cx - p(190), body_top + p(5)),
            (cx - p(110), body_top - p(95)),
            (cx + p(120), body_top - p(95)),
            (cx + p(215), body_top + p(5)),
        ],
        fill=colour,
    )
    glass = (150, 175, 200)
    draw.polygon(
        [(cx - p(160), body_top), (cx - p(100), body_top - p(75)), (cx - p(5), body_top - p(75)), (cx - p(5), body_top)],
        fill=glass,
    )
    draw.polygon(
        [(cx + p(10), body_top), (cx + p(10), body_top - p(75)), (cx + p(112), body_top - p(75)), (cx + p(180), body_top)],
        fill=glass,
    )
    for wheel_x in (cx - p(200), cx + p(200)):
        draw.ellipse((wheel_x - p(62), floor_y - p(118), wheel_x + p(62), floor_y + p(6)), fill=(28, 28, 30))
        draw.ellipse((wheel_x - p(30), floor_y - p(86), wheel_x + p(30), floor_y - p(26)), fill=(170, 170, 175))


def _hue_weights(hue: int) -> tuple[float, float, float]:
    """Per RGB channel, how much of the saturation it loses at this Pillow hue (0-255):
    HSV → RGB is ``v * (1 - s * w)`` per channel."""
    full = colorsys.hsv_to_rgb(hue / 255, 1.0, 1.0)
    return (1 - full[0], 1 - full[1], 1 - full[2])


def _to_pillow_hsv(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    h, s, v = colorsys.rgb_to_hsv(*(channel / 255 for channel in rgb))
    return round(h * 255) % 256, round(s * 255), round(v * 255)


def _body_mask(image: Image.Image, saturation: Image.Image, value: Image.Image) -> Image.Image:
    """Saturated, not-too-dark pixels; or, for a colourless car, pixels unlike the border."""
    saturated = saturation.point(lambda s: 255 if s >= 60 else 0)
    lit = value.point(lambda v: 255 if v >= 40 else 0)
    mask = ImageChops.multiply(saturated, lit)
    if ImageStat.Stat(mask).mean[0] / 255 >= 0.02:
        return mask
    width, height = image.size
    patch = max(2, min(width, height) // 32)
    corners = [
        image.crop((0, 0, patch, patch)),
        image.crop((width - patch, 0, width, patch)),
        image.crop((0, height - patch, patch, height)),
        image.crop((width - patch, height - patch, width, height)),
    ]
    means = [ImageStat.Stat(corner).mean for corner in corners]
    border = tuple(sorted(channel)[len(channel) // 2] for channel in zip(*means, strict=True))
    background = Image.new("RGB", image.size, tuple(int(c) for c in border))
    distance = ImageChops.difference(image, background).convert("L")
    return ImageChops.multiply(distance.point(lambda d: 255 if d > 40 else 0), lit)


@dataclass(frozen=True)
class _ColourPrep:
    """What every colour job on the same input shares (computed once per input)."""

    source: Image.Image
    hue: Image.Image
    saturation: Image.Image
    value: Image.Image
    mask: Image.Image
    """The body mask, softened (BoxBlur 1) for the composite."""
    body_v: float


_COLOUR_PREP: LRU[tuple[bytes, int], _ColourPrep] = LRU(CACHE_ENTRIES // 2)


def _prepare_colour(image: Image.Image) -> _ColourPrep:
    source = image
    if source.width > WIDTH or source.height > HEIGHT:
        source = image.copy()
        source.thumbnail((WIDTH, HEIGHT), Image.Resampling.BILINEAR, reducing_gap=2.0)
    hue, saturation, value = source.convert("HSV").split()
    mask = _body_mask(source, saturation, value)
    body_v = ImageStat.Stat(value, mask).mean[0] if mask.getbbox() else 128.0
    return _ColourPrep(source, hue, saturation, value, mask.filter(ImageFilter.BoxBlur(1)), body_v)


def colorize(
    image: Image.Image,
    colour: tuple[int, int, int],
    label: str,
    cache_key: tuple[bytes, int] | None = None,
) -> Image.Image:
    """Repaint the car body (see the module docstring). With ``cache_key`` (the input's
    digest) the per-input work is shared by every colour job on that input."""
    prepare = functools.partial(_prepare_colour, image)
    prep = prepare() if cache_key is None else _COLOUR_PREP.get(cache_key, prepare)
    source = prep.source
    target_h, target_s, target_v = _to_pillow_hsv(colour)
    scale = min(2.4, max(0.3, target_v / max(prep.body_v, 1.0)))
    new_v = prep.value.point(lambda v: min(255, int(v * scale)))
    # HSV → RGB without Pillow's slow HSV conversion: with the hue fixed (the target's), each
    # channel is v * (1 - s * w) for a per-channel weight w of the hue, so a channel is the new
    # value times a lookup of the saturation. A saturated target keeps some of each pixel's
    # saturation (shading); an unsaturated one (white, silver, black) takes its own.
    channels = []
    for weight in _hue_weights(target_h):
        if target_s >= 40:

            def factor(s: int, weight: float = weight) -> int:
                new_s = min(255, int(target_s * (0.8 + 0.2 * s / 255)))
                return round(255 - new_s * weight)

            channels.append(ImageChops.multiply(new_v, prep.saturation.point(factor)))
        else:
            keep = 1 - target_s * weight / 255
            channels.append(new_v.point(lambda v, keep=keep: round(v * keep)))
    repainted = Image.merge("RGB", channels)
    result = Image.composite(repainted, source, prep.mask)
    _pill(
        result,
        (_px(16), result.height - _px(16)),
        [(f"COLOUR · {label}", 22)],
        swatch=colour,
        anchor_bottom=True,
    )
    return result
