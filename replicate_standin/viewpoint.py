"""What a prompt asks the stand-in to draw: the viewpoint of an angle job, the finish of a colour
job, and the ``drift`` fault's deliberately wrong paint.

Viewpoint (``view_of``): the angle's description is the text after "angle:" (the project's
template says "seen from this angle: {{ANGLE_DESC}}."), else the whole prompt. Degrees win
("at 135 degrees", "135°"); else words: overhead / top-down / from above; front, rear (back) and
side (profile) with left / right ("front right corner" = 45, "rear left" = 225, "left side" =
270, "front" = 0, "rear" = 180, "side" = 90). A prompt that names no viewpoint gets one of the
eight preset positions by a stable hash of its text, so different prompts still look different.
Azimuths count clockwise from the front seen from above (90 = the car's right side), as the
angle presets do.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .studio import Finish

if TYPE_CHECKING:
    from coloraide import Color

EYE_LEVEL = 7.0
OVERHEAD = 78.0
DRIFT_MIN_DELTA_E = 25.0
"""The drift fault's paint is at least this far (CIEDE2000) from the target: far past any
sensible colour-check threshold, so a drifted cell is plainly "off"."""

_DESC = re.compile(r"\bangle\s*[:=]\s*(.+?)(?:\.\s+[A-Z]|\.$|$)", re.IGNORECASE | re.DOTALL)
_DEGREES = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*(?:°|º|deg(?:rees?)?\b)", re.IGNORECASE)
_OVERHEAD = re.compile(r"\b(?:overhead|top[- ]down|bird'?s[- ]eye|from above|straight down|top view)\b", re.IGNORECASE)
_FRONT = re.compile(r"\bfront\b", re.IGNORECASE)
_REAR = re.compile(r"\b(?:rear|back|behind)\b", re.IGNORECASE)
_SIDE = re.compile(r"\b(?:side|profile)\b", re.IGNORECASE)
_LEFT = re.compile(r"\bleft\b", re.IGNORECASE)
_RIGHT = re.compile(r"\bright\b", re.IGNORECASE)
_LOW = re.compile(r"\b(?:low angle|ground level|from below)\b", re.IGNORECASE)
_HIGH = re.compile(r"\b(?:high angle|elevated)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})(?![0-9a-zA-Z])")
_REPAINT = re.compile(r"\b(?:re-?paint|recolou?r|paint)", re.IGNORECASE)
PRESET_AZIMUTHS = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)

_FINISH_WORDS: tuple[tuple[Finish, re.Pattern[str]], ...] = (
    ("chrome", re.compile(r"\bchrome\b", re.IGNORECASE)),
    ("pearl", re.compile(r"\bpearl(?:escent)?\b", re.IGNORECASE)),
    ("matte", re.compile(r"\b(?:matte?|satin|flat|frozen)\b", re.IGNORECASE)),
    ("metallic", re.compile(r"\b(?:metallic|metal[- ]?flake)\b", re.IGNORECASE)),
)


@dataclass(frozen=True)
class View:
    azimuth: float
    elevation: float


def description(prompt: str) -> str:
    """The angle's own words: after "angle:" to the end of that sentence, else the prompt."""
    match = _DESC.search(" ".join(prompt.split()))
    return match.group(1) if match else prompt


def view_of(prompt: str) -> View:
    text = description(prompt)
    elevation = EYE_LEVEL
    if _LOW.search(text):
        elevation = 2.0
    elif _HIGH.search(text):
        elevation = 25.0
    if _OVERHEAD.search(text):
        return View(0.0, OVERHEAD)
    degrees = _DEGREES.search(text)
    if degrees:
        return View(float(degrees.group(1)) % 360, elevation)
    front, rear, side = _FRONT.search(text), _REAR.search(text), _SIDE.search(text)
    left, right = _LEFT.search(text), _RIGHT.search(text)
    if front and not rear:
        azimuth = 45.0 if right and not left else 315.0 if left and not right else 0.0
    elif rear and not front:
        azimuth = 135.0 if right and not left else 225.0 if left and not right else 180.0
    elif side or left or right:
        azimuth = 270.0 if left and not right else 90.0
    else:
        azimuth = PRESET_AZIMUTHS[zlib.crc32(text.encode("utf-8")) % len(PRESET_AZIMUTHS)]
    return View(azimuth, elevation)


def finish_of(prompt: str) -> Finish:
    """The finish a colour prompt names (its first such word wins); gloss when it names none.
    Only the sentence that names the colour counts (the one with the hex, else the one asking to
    repaint): the project's template goes on about "chrome and black trim" to be kept."""
    sentences = _SENTENCE.split(" ".join(prompt.split()))
    text = next((s for s in sentences if _HEX.search(s)), None) or next((s for s in sentences if _REPAINT.search(s)), prompt)
    found = [(match.start(), finish) for finish, pattern in _FINISH_WORDS if (match := pattern.search(text))]
    return min(found)[1] if found else "gloss"


@lru_cache(maxsize=1)
def _color_class() -> type[Color]:
    from coloraide import Color  # imported by the first drift only

    return Color


def drifted(target: tuple[int, int, int]) -> tuple[int, int, int]:
    """A paint plainly off ``target``: a colourful target turned well round the hue circle; a
    colourless one (white, silver, grey, black) given a strong warm tint at a middle lightness.
    Always at least DRIFT_MIN_DELTA_E (CIEDE2000) away, and inside sRGB."""
    color_class = _color_class()
    wanted = color_class("srgb", [c / 255 for c in target])
    lch = wanted.convert("lch")
    lightness, chroma, hue = lch["lightness"], lch["chroma"], lch["hue"]
    if chroma != chroma or chroma < 18:  # NaN hue on greys: a neutral colour
        lightness, chroma, hue = 30 + 0.4 * lightness, 48.0, 55.0
    else:
        hue, chroma = (hue + 75) % 360, max(chroma, 40.0)
    for step in range(12):
        candidate = color_class("lch", [lightness, chroma, (hue + 25 * step) % 360]).convert("srgb").fit("srgb")
        if wanted.delta_e(candidate, method="2000") >= DRIFT_MIN_DELTA_E:
            break
    return (round(candidate["red"] * 255), round(candidate["green"] * 255), round(candidate["blue"] * 255))
