"""Paint in pictures the stand-in did not draw: a car's colour measured in dealer photos, and a
photo's car body repainted pixel by pixel.

``measure_paint``: the body is the photo's most saturated lit pixels (a colourless car: the pixels
unlike the border) and its colour their per-channel median, white-balanced on the photo's greys
and brightened to studio exposure (the samples are dim and warm).

``colorize`` (a colour job whose input carries no stand-in scene): the saturated, not-too-dark
pixels (the car body) get the target hue and saturation and have their brightness rescaled
toward the target's; unsaturated backdrop pixels are kept. If almost nothing is saturated (a
white/grey/black car), the mask falls back to "differs from the border colour". Same size as the
input, shrunk to fit 640x480. The per-input work (HSV split, body mask) is made once per input
(``COLOUR_PREP``), so the colours of one input only repaint; HSV → RGB by per-channel lookups,
not Pillow's slow HSV conversion.
"""

from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass

from PIL import Image, ImageChops, ImageFilter, ImageStat

from .lru import LRU

WIDTH, HEIGHT = 640, 480
CACHE_ENTRIES = 16  # the sources of a few cars (see model.CACHE_ENTRIES)
UNKNOWN_PAINT = (52, 78, 120)
"""A source whose car shows no colour at all (unreadable, empty): a neutral dark blue."""

def _percentile(histogram: list[int], fraction: float) -> int:
    total, running = sum(histogram), 0
    for value, count in enumerate(histogram):
        running += count
        if running >= fraction * total:
            return value
    return len(histogram) - 1


def measure_paint(image: Image.Image) -> tuple[int, int, int]:
    """The car's paint in a (dealer) photo: the median of its most saturated lit pixels (a
    colourless car: the pixels unlike the border), white-balanced on the photo's greys and
    brought to studio exposure (the photo's brightest 0.5 % at 230), hue kept."""
    small = image.copy()
    small.thumbnail((160, 160), Image.Resampling.BILINEAR, reducing_gap=2.0)
    _hue, saturation, value = small.convert("HSV").split()
    lit = value.point(lambda v: 255 if v >= 25 else 0)
    cut = max(_percentile(saturation.histogram(), 0.85), 70)
    mask = ImageChops.multiply(saturation.point(lambda v: 255 if v >= cut else 0), lit)
    if ImageStat.Stat(mask).mean[0] < 0.01 * 255:
        mask = _body_mask(small, saturation, value)
    if not mask.getbbox():
        return UNKNOWN_PAINT
    body = ImageStat.Stat(small, mask).median
    greys = ImageChops.multiply(saturation.point(lambda v: 255 if v < 60 else 0), lit)
    balance = [1.0, 1.0, 1.0]
    if greys.getbbox():
        means = ImageStat.Stat(small, greys).mean
        grey = sum(means) / 3
        balance = [min(1.4, max(0.7, grey / max(mean, 1.0))) for mean in means]
    balanced = [channel * gain for channel, gain in zip(body, balance, strict=True)]
    exposure = 230 / max(_percentile(small.convert("L").histogram(), 0.995), 1)
    exposure = max(1.0, min(exposure, 5.0, 255 / max(max(balanced), 1.0)))
    red, green, blue = (min(255, round(channel * exposure)) for channel in balanced)
    return red, green, blue


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


COLOUR_PREP: LRU[tuple[bytes, int], _ColourPrep] = LRU(CACHE_ENTRIES // 2)


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
    cache_key: tuple[bytes, int] | None = None,
) -> Image.Image:
    """Repaint the car body of a photo (see the module docstring). With ``cache_key`` (the
    input's digest) the per-input work is shared by every colour job on that input."""
    prepare = functools.partial(_prepare_colour, image)
    prep = prepare() if cache_key is None else COLOUR_PREP.get(cache_key, prepare)
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
    return result
