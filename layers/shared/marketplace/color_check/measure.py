"""The colour check itself, pure: the target a colour names, the body paint measured in an output,
CIEDE2000 between them, and the verdict. No AWS here (``service`` feeds it).

**Target** (``parse_target``): the first ``#RRGGBB`` (or ``#RGB``) in the colour's prompt value;
without one, the first CSS colour name in it (``coloraide``'s list of the 148 CSS names, read as
words, longest first: "dark slate grey" → ``darkslategrey``; ``transparent`` is no colour); else
none (the verdict is ``unknown``).

**Measured** (``measure_body``): both pictures are shrunk to at most ``MEASURE_SIDE`` pixels (the
check stays a few milliseconds). The body is the pixels the colour job changed: where the output
differs from the angle image it was fed by more than ``CHANGED_MIN`` in any channel, eroded by one
pixel (anti-aliased edges mix paint with the backdrop). When there is no usable fed image (none,
another shape) or almost nothing changed (the car already had that colour), the body is the
pixels unlike the picture's border (the backdrop). Its colour is the per-channel median of the
body's middle tones (luminance between its 20th and 90th percentiles): shadows, deep reflections
and specular highlights are the tails a metallic or pearl finish spreads, the paint is the middle.

**Verdict**: ΔE2000 (``coloraide``, CIE Lab D65) at most the threshold → ``ok``, above → ``off``;
no target, or no body measurable in the image (unreadable, blank) → ``unknown``.

Images are untrusted: anything Pillow cannot read, too many pixels, a blank picture, is
``unknown`` with a reason, never an exception.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from PIL import Image

Verdict = Literal["ok", "off", "unknown"]
OK: Verdict = "ok"
OFF: Verdict = "off"
UNKNOWN: Verdict = "unknown"

MEASURE_SIDE = 160
CHANGED_MIN = 28
MIN_BODY_FRACTION = 0.01
SHAPE_TOLERANCE = 0.03
MAX_PIXELS = 40_000_000
MAX_PROMPT_CHARS = 1000
_HEX = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})(?![0-9a-zA-Z])")
_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class ColorCheck:
    target: str | None  # "#rrggbb"
    measured: str | None  # "#rrggbb"
    delta_e: float | None  # CIEDE2000, one decimal
    verdict: Verdict
    reason: str | None = None  # why unknown (logged, not stored)

    def as_view(self) -> dict[str, Any]:
        """``{target, measured, deltaE, verdict}``: what the cell stores and clients get."""
        return {"target": self.target, "measured": self.measured, "deltaE": self.delta_e, "verdict": self.verdict}


def to_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@lru_cache(maxsize=1)
def _css_names() -> Any:
    from coloraide.css import color_names  # the colour science is imported by the first check

    return color_names


def parse_target(prompt_value: str | None) -> str | None:
    """The target colour a prompt value names, as ``#rrggbb`` (see the module docstring)."""
    if not prompt_value:
        return None
    text = prompt_value[:MAX_PROMPT_CHARS]
    found = _HEX.search(text)
    if found:
        digits = found.group(1).lower()
        return "#" + (digits if len(digits) == 6 else "".join(d * 2 for d in digits))
    names = _css_names()
    words = _WORD.findall(text.lower())
    for start in range(len(words)):
        for span in (3, 2, 1):
            if start + span > len(words):
                continue
            name = "".join(words[start : start + span])
            if name != "transparent" and names.has_name(name):
                red, green, blue = (round(c * 255) for c in names.from_name(name)[:3])
                return to_hex((red, green, blue))
    return None


def open_small(data: bytes | Image.Image) -> Image.Image:
    """At most MEASURE_SIDE on the longer side, RGB: PNG/JPEG bytes decoded (OSError/ValueError for
    anything unusable), or a picture already decoded (the webhook's thumbnail) shrunk as it is."""
    from PIL import Image

    if isinstance(data, Image.Image):
        if data.width <= 0 or data.height <= 0:
            raise ValueError(f"image is {data.width}x{data.height} pixels")
        image = data.convert("RGB")  # a copy: the caller's picture stays as it was
        image.thumbnail((MEASURE_SIDE, MEASURE_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
        return image
    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
        if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
            raise ValueError(f"image is {width}x{height} pixels")
        opened.draft("RGB", (MEASURE_SIDE, MEASURE_SIDE))
        image = opened.convert("RGB")
    image.thumbnail((MEASURE_SIDE, MEASURE_SIDE), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return image


def _percentile(histogram: list[int], fraction: float) -> int:
    total, running = sum(histogram), 0
    for value, count in enumerate(histogram):
        running += count
        if running >= fraction * total:
            return value
    return len(histogram) - 1


def _fraction(mask: Image.Image) -> float:
    return mask.histogram()[255] / max(1, mask.width * mask.height)


def _changed(output: Image.Image, fed: Image.Image) -> Image.Image:
    from PIL import ImageChops, ImageFilter

    red, green, blue = ImageChops.difference(output, fed).split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return largest.point(lambda v: 255 if v > CHANGED_MIN else 0).filter(ImageFilter.MinFilter(3))


def _unlike_border(image: Image.Image) -> Image.Image:
    """Pixels far from the border's colour (the backdrop): the subject."""
    from PIL import Image as PILImage
    from PIL import ImageChops, ImageFilter, ImageStat

    width, height = image.size
    patch = max(2, min(width, height) // 16)
    corners = [image.crop(box) for box in ((0, 0, patch, patch), (width - patch, 0, width, patch),
                                          (0, height - patch, patch, height), (width - patch, height - patch, width, height))]
    means = [ImageStat.Stat(corner).mean for corner in corners]
    border = tuple(int(sorted(channel)[len(channel) // 2]) for channel in zip(*means, strict=True))
    red, green, blue = ImageChops.difference(image, PILImage.new("RGB", image.size, border)).split()
    largest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    return largest.point(lambda v: 255 if v > 40 else 0).filter(ImageFilter.MinFilter(3))


def body_mask(output: Image.Image, fed: Image.Image | None) -> Image.Image:
    """Where the body is in ``output`` (255): what the repaint changed, else what is not backdrop."""
    from PIL import Image

    shape = output.width / output.height
    if fed is not None and abs(fed.width / fed.height - shape) <= SHAPE_TOLERANCE * shape:
        changed = _changed(output, fed.resize(output.size, Image.Resampling.BILINEAR))
        if _fraction(changed) >= MIN_BODY_FRACTION:
            return changed
    return _unlike_border(output)


def measure_body(output: bytes | Image.Image, fed: bytes | Image.Image | None = None) -> tuple[int, int, int] | None:
    """The body paint of ``output`` (the fed image: what the colour job was given), or None when
    no body shows; either as bytes or decoded (``open_small``). Raises OSError / ValueError for
    bytes that are not a usable image."""
    from PIL import ImageChops, ImageStat

    picture = open_small(output)
    fed_picture = None
    if fed:
        try:
            fed_picture = open_small(fed)
        except Exception:  # an unreadable fed image: measured without it
            fed_picture = None
    mask = body_mask(picture, fed_picture)
    if _fraction(mask) < MIN_BODY_FRACTION:
        return None
    luminance = picture.convert("L")
    histogram = luminance.histogram(mask)
    low, high = _percentile(histogram, 0.20), _percentile(histogram, 0.90)
    band = ImageChops.multiply(luminance.point(lambda v: 255 if low <= v <= high else 0), mask)
    if not band.getbbox():
        band = mask
    red, green, blue = (int(v) for v in ImageStat.Stat(picture, band).median)
    return red, green, blue


def delta_e_2000(first: str, second: str) -> float:
    from coloraide import Color

    return float(Color(first).delta_e(Color(second), method="2000"))


def check_color(prompt_value: str | None, output: bytes | Image.Image, fed: bytes | Image.Image | None,
                max_delta_e: float) -> ColorCheck:
    """The whole check (see the module docstring); never raises for bad input."""
    target = parse_target(prompt_value)
    try:
        rgb = measure_body(output, fed)
    except Exception as error:  # untrusted bytes: any decoder failure (bombs included) is "unknown"
        return ColorCheck(target, None, None, UNKNOWN, f"image unreadable: {type(error).__name__}")
    measured = to_hex(rgb) if rgb else None
    if measured is None:
        return ColorCheck(target, None, None, UNKNOWN, "no car body found in the image")
    if target is None:
        return ColorCheck(None, measured, None, UNKNOWN, "the colour names no target (no hex, no CSS colour name)")
    delta_e = round(delta_e_2000(target, measured), 1)
    return ColorCheck(target, measured, delta_e, OK if delta_e <= max_delta_e else OFF)
