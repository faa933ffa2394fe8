"""The stand-in's studio shot: the car of ``car_render`` on a light-grey sweep, in a paint and finish.

A ``Scene`` is what one picture shows: the viewpoint (azimuth, elevation), the body colour, the
finish and the caption. ``render(scene)`` draws it (640x480): the backdrop, a soft contact shadow,
the car drawn at twice the size and halved (anti-aliasing), the finish, then the caption. What a
viewpoint's pictures share is made once and kept (``VIEWS``: the set, the car's box and its
``car_render.Plan``), so a colour job only fills the car's polygons in its box.

The picture carries its scene in a PNG text chunk (``SCENE_KEY``): a colour job handed a
stand-in picture re-draws the same scene in the new paint, so it changes the body and nothing
else, as the colourisation prompt asks. (Real nano-banana keeps no such note; an input without it is
repainted pixel by pixel, see ``photo_paint``.)

Lighting follows the camera (a large key light above it, as a studio sets its softboxes for
each shot), so the paint reads the same from every angle: a face turned to the
camera is drawn in the paint's own colour, faces turned away darker. The finishes:

* gloss / solid: crisp softbox reflections (a white band along the shoulder, one across the hood);
* metallic: a wider range of light to dark across the faces (flop), softer reflections, flakes;
* pearl: faces seen at a glancing angle shift towards a lighter tint of a neighbouring hue;
* matte / satin: a flatter range, no reflections;
* chrome: dark faces with strong reflections.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import asdict, dataclass, replace
from typing import Literal

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, PngImagePlugin

from . import car_render
from .car_render import RGB, Vec
from .lru import LRU

WIDTH, HEIGHT = 640, 480
SUPERSAMPLE = 2
SCENE_KEY = "replicate-standin:scene"
Finish = Literal["gloss", "metallic", "pearl", "matte", "chrome"]
FINISHES: tuple[Finish, ...] = ("gloss", "metallic", "pearl", "matte", "chrome")


@dataclass(frozen=True)
class Scene:
    azimuth: float
    elevation: float
    body: RGB
    finish: Finish = "gloss"
    label: str = ""

    def to_text(self) -> str:
        return json.dumps({"v": 1, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> Scene | None:
        """The scene a stand-in picture carries, or None for anything else (never raises)."""
        try:
            data = json.loads(text)
            body = tuple(max(0, min(255, int(c))) for c in data["body"])
            finish = data.get("finish") if data.get("finish") in FINISHES else "gloss"
            if data.get("v") != 1 or len(body) != 3:
                return None
            return cls(float(data["azimuth"]) % 360, float(data["elevation"]), body, finish,  # type: ignore[arg-type]
                       str(data.get("label") or "")[:80])
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def repainted(self, body: RGB, finish: Finish) -> Scene:
        return replace(self, body=body, finish=finish)


def png_info(scene: Scene) -> PngImagePlugin.PngInfo:
    """The scene's text chunk for Pillow's PNG writer (``model.encode`` writes the same with ``png``)."""
    info = PngImagePlugin.PngInfo()
    info.add_text(SCENE_KEY, scene.to_text())
    return info


# --------------------------------------------------------------------------- the set


@functools.lru_cache(maxsize=1)
def backdrop() -> Image.Image:
    """Light-grey studio sweep: a wall darkening toward the horizon, a lit floor (output size)."""
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


BLUR = 9
"""The contact shadow's blur radius (output pixels); a Gaussian blur this wide reaches about
3 x BLUR, so blurring the footprint's box grown by BLUR_REACH is the same as blurring it all."""
BLUR_REACH = 4 * BLUR


def _set_for(azimuth: float, elevation: float) -> Image.Image:
    """The backdrop with the car's soft contact shadow (output size)."""
    camera = car_render.Camera(azimuth, elevation, size=(WIDTH, HEIGHT))
    footprint = car_render.footprint_shadow(camera, (WIDTH, HEIGHT), fill=150)
    picture = backdrop().copy()
    box = footprint.getbbox()
    if box:
        region = _clip((box[0] - BLUR_REACH, box[1] - BLUR_REACH, box[2] + BLUR_REACH, box[3] + BLUR_REACH))
        picture.paste((70, 70, 74), region, footprint.crop(region).filter(ImageFilter.GaussianBlur(BLUR)))
    return picture


def _clip(box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return max(0, box[0]), max(0, box[1]), min(WIDTH, box[2]), min(HEIGHT, box[3])


@dataclass(frozen=True)
class View:
    """What every picture from one viewpoint shares (``VIEWS``): the set (output size), the box
    the car lies in and the car's plan drawn into that box at the drawing size. Only the box is
    drawn at twice the size and halved: the rest of the picture is the set as it is."""

    set: Image.Image
    box: tuple[int, int, int, int]
    plan: car_render.Plan

    def under(self) -> Image.Image:
        """The set in the box at the drawing size, to draw on. NEAREST: each output pixel becomes
        four equal ones, so where nothing is drawn the halved box is the set exactly (no seam)."""
        box = self.box
        size = ((box[2] - box[0]) * SUPERSAMPLE, (box[3] - box[1]) * SUPERSAMPLE)
        return self.set.resize(size, Image.Resampling.NEAREST, box=box)


VIEW_ENTRIES = 4
"""Viewpoints kept: about 1.3 MB each (the set, 4 bytes a pixel in Pillow, and the plan). An
angle's colour jobs come together, so a few catch them."""
VIEWS: LRU[tuple[float, float], View] = LRU(VIEW_ENTRIES)


def make_view(azimuth: float, elevation: float) -> View:
    size = (WIDTH * SUPERSAMPLE, HEIGHT * SUPERSAMPLE)
    plan = car_render.plan_car(car_render.Camera(azimuth, elevation, size=size))
    x0, y0, x1, y1 = plan.bounds(SUPERSAMPLE)
    # Whole output pixels round every shape, one spare each side; never empty (a car out of frame).
    left, top = _clip((math.floor(x0 / SUPERSAMPLE) - 1, math.floor(y0 / SUPERSAMPLE) - 1, 0, 0))[:2]
    right, bottom = _clip((0, 0, math.ceil(x1 / SUPERSAMPLE) + 1, math.ceil(y1 / SUPERSAMPLE) + 1))[2:]
    left, top = min(left, WIDTH - 1), min(top, HEIGHT - 1)
    box = (left, top, max(right, left + 1), max(bottom, top + 1))
    return View(_set_for(azimuth, elevation), box, plan.moved(box[0] * SUPERSAMPLE, box[1] * SUPERSAMPLE))


def view(azimuth: float, elevation: float) -> View:
    return VIEWS.get((azimuth, elevation), functools.partial(make_view, azimuth, elevation))


def steady_rows(scene: Scene) -> tuple[tuple[float, float, str], int, int]:
    """(key, top, bottom): the rows of a picture of ``scene`` outside the car's band (the set and
    the caption) are those of every picture with this key (``png.encode``'s ``steady``)."""
    box = view(scene.azimuth, scene.elevation).box
    return (scene.azimuth, scene.elevation, scene.label), box[1], box[3]


@functools.lru_cache(maxsize=1)
def _flakes() -> Image.Image:
    """Metallic flakes: fine zero-mean (128-centred) sparkle, seeded."""
    rng = random.Random(7)
    noise = Image.frombytes("L", (WIDTH, HEIGHT), rng.randbytes(WIDTH * HEIGHT))
    grain = noise.point(lambda v: 128 + (v - 128) // 9)
    return Image.merge("RGB", (grain, grain, grain))


@functools.lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=8)
def caption_layer(lines: tuple[tuple[str, int], ...]) -> tuple[Image.Image, Image.Image]:
    """Text lines on a translucent white rounded box: the box's colours and its opacity (an angle's
    colour jobs share their caption, so it is drawn once; ~70 KB each)."""
    pad = 8
    fonts = [_font(size) for _text, size in lines]
    boxes = [tuple(int(v) for v in font.getbbox(text)) for (text, _size), font in zip(lines, fonts, strict=True)]
    heights = [box[3] - box[1] + 4 for box in boxes]
    width, height = max(box[2] - box[0] for box in boxes) + 2 * pad, sum(heights) + 2 * pad
    panel = Image.new("RGBA", (width + 1, height + 1), (255, 255, 255, 0))
    ImageDraw.Draw(panel).rounded_rectangle((0, 0, width, height), radius=6, fill=(255, 255, 255, 200))
    text = Image.new("RGBA", panel.size, (40, 40, 46, 0))
    draw, cursor = ImageDraw.Draw(text), pad
    for (line, _size), font, box, line_h in zip(lines, fonts, boxes, heights, strict=True):
        draw.text((pad - box[0], cursor - box[1]), line, font=font, fill=(40, 40, 46, 255))
        cursor += line_h
    layer = Image.alpha_composite(panel, text)
    return layer.convert("RGB"), layer.getchannel("A")


def caption(picture: Image.Image, lines: list[tuple[str, int]]) -> None:
    """Text lines on a translucent white rounded box, top left."""
    colours, opacity = caption_layer(tuple(lines))
    picture.paste(colours, (12, 12), opacity)


# --------------------------------------------------------------------------- light and finish


@dataclass(frozen=True)
class _Look:
    falloff: float  # how much darker a face turned away from the key is (0: flat)
    band_alpha: int  # softbox reflections (0: none)
    band_width: float  # metres
    pearl: float  # how far a glancing face shifts to the pearl tint


_LOOKS: dict[str, _Look] = {
    "gloss": _Look(0.45, 150, 0.07, 0.0),
    "metallic": _Look(0.60, 95, 0.13, 0.0),
    "pearl": _Look(0.45, 110, 0.10, 0.55),
    "matte": _Look(0.30, 0, 0.0, 0.0),
    "chrome": _Look(0.70, 190, 0.10, 0.0),
}


def _pearl_tint(body: RGB) -> RGB:
    """A lighter colour a little round the hue circle (RGB rotation; white pearls turn warm)."""
    r, g, b = body
    if max(body) - min(body) < 24:  # white, silver, grey: a faint warm-pink glow
        return (min(255, r + 8), max(0, g - 4), max(0, b - 10))
    return (min(255, int(0.8 * r + 0.2 * b + 20)), min(255, int(0.8 * g + 0.2 * r + 20)), min(255, int(0.8 * b + 0.2 * g + 20)))


def _shader(camera: car_render.Camera, body: RGB, look: _Look) -> car_render.Shader:
    towards = (-camera.forward[0], -camera.forward[1], -camera.forward[2])
    key = car_render.norm((towards[0], towards[1], towards[2] + 0.55))
    tint = _pearl_tint(body)

    def shade(colour: RGB, normal: Vec) -> RGB:
        n = car_render.norm(normal)
        # Soft studio light: a face turned to the key shows the paint itself, one at 45 degrees
        # about 4 % darker (gloss), one turned away down to 1 - falloff.
        factor = 1.03 - look.falloff * (1 - max(0.0, car_render.dot(n, key))) ** 2
        if colour == body and look.pearl:
            glance = (1 - max(0.0, car_render.dot(n, towards))) * look.pearl
            colour = tuple(round(c + (t - c) * glance) for c, t in zip(colour, tint, strict=True))  # type: ignore[assignment]
        return (min(255, int(colour[0] * factor)), min(255, int(colour[1] * factor)), min(255, int(colour[2] * factor)))

    return shade


def _reflections(look: _Look, body: RGB, picture: Image.Image, mask: Image.Image) -> car_render.Reflections:
    """Softbox reflections on the visible side and the hood, kept inside the painted body (the
    body mask as it stands once the body is drawn): reflections are part of the paint."""
    glow = (255, 255, 255) if sum(body) > 150 or look.band_alpha < 150 else (235, 240, 250)

    def draw(canvas: car_render.Canvas, faces: list[tuple[list[Vec], Vec]]) -> None:
        if not look.band_alpha:
            return
        camera = canvas.camera
        bands = Image.new("L", picture.size, 0)
        overlay = ImageDraw.Draw(bands)
        for _points, normal in faces:
            if abs(normal[1]) > 0.95:  # a body side: a band along the shoulder line
                y = math.copysign(0.903, normal[1])
                z0, z1 = 0.80 - look.band_width, 0.80
                band = [(-2.05, y, z0), (2.08, y, z0), (2.10, y, z1), (-2.08, y, z1)]
                overlay.polygon([camera.project(p) for p in band], fill=look.band_alpha)
        if camera.position[2] > 0.8:  # the hood from above: a diagonal streak
            streak = [(1.95, -0.55, 0.805), (1.80, -0.25, 0.82), (1.25, 0.55, 0.88), (1.45, 0.25, 0.865)]
            overlay.polygon([camera.project(p) for p in streak], fill=look.band_alpha)
        box = bands.getbbox()
        if box:  # only where the bands are: a full-size paste costs more than the car
            clipped = ImageChops.multiply(bands.crop(box), mask.crop(box))
            picture.paste(glow, box, clipped)

    return draw


def render(scene: Scene) -> tuple[Image.Image, Image.Image]:
    """The studio shot (RGB, WIDTH x HEIGHT) and the mask of its painted body ("L", 255 = paint)."""
    look = _LOOKS[scene.finish]
    seen = view(scene.azimuth, scene.elevation)
    car = seen.under()
    car_mask = Image.new("L", car.size, 0)
    camera = seen.plan.camera
    canvas = car_render.Canvas(ImageDraw.Draw(car), camera, _shader(camera, scene.body, look),
                               mask=ImageDraw.Draw(car_mask), line_scale=SUPERSAMPLE)
    car_render.draw_plan(canvas, seen.plan, scene.body, _reflections(look, scene.body, car, car_mask))
    car, car_mask = car.reduce(SUPERSAMPLE), car_mask.reduce(SUPERSAMPLE)
    if scene.finish == "metallic":  # flakes in the paint, so only in the car's box
        sparkled = ImageChops.add(car, _flakes().crop(seen.box), 1.0, -128)
        car = Image.composite(sparkled, car, car_mask)
    picture, mask = seen.set.copy(), Image.new("L", (WIDTH, HEIGHT), 0)
    picture.paste(car, seen.box[:2])
    mask.paste(car_mask, seen.box[:2])
    if scene.label:
        caption(picture, [(f"ANGLE · {scene.label}", 15), ("replicate stand-in · studio", 10)])
    return picture, mask
