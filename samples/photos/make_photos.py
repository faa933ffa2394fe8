"""Draw the bundled sample photos: one teal hatchback-ish car, four positions, a dim garage.

No free photo can be downloaded where this project is built, so the "dealer photos" are drawn
by the same small 3D car renderer the Replicate stand-in draws its studio shots with
(``replicate_standin/car_render.py``): seen from the front-left, the right side, the rear-right
and the front, painted with one garage lamp's Lambert shading on a dark garage background, then
made "poorly lit": darkened, low contrast, a warm sodium-lamp colour cast, vignetting and sensor
noise. Deterministic (fixed seeds).

    python samples/photos/make_photos.py            # rewrites the JPEGs next to this file
    python samples/photos/make_photos.py --out DIR  # elsewhere
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script from anywhere: the renderer lives in the stand-in
    sys.path.insert(0, str(ROOT))

from replicate_standin import car_render  # noqa: E402

WIDTH, HEIGHT = 800, 600
SCALE = 2  # drawn at 2x, then downsampled (anti-aliasing)
BODY = (0, 158, 146)  # saturated teal: colourisation must visibly change it
LIGHT_DIR = (0.45, 0.35, 0.82)  # the garage lamp: from the front-left, above


def draw_garage(image: Image.Image, rng: random.Random) -> None:
    w, h = image.size
    draw = ImageDraw.Draw(image)
    horizon = int(h * 0.56)
    for y in range(horizon):  # back wall: dim, warmer near the lamp
        v = 58 + int(22 * (1 - abs(y - h * 0.12) / h))
        draw.line([(0, y), (w, y)], fill=(v, v, v))
    for x in range(0, w, w // 7):  # wall panels
        draw.line([(x, 0), (x, horizon)], fill=(42, 42, 42), width=3 * SCALE)
    draw.rectangle((int(w * 0.38), int(h * 0.05), int(w * 0.62), int(h * 0.075)), fill=(150, 150, 140))  # tube lamp
    draw.rectangle((int(w * 0.06), int(h * 0.22), int(w * 0.2), int(h * 0.40)), fill=(46, 45, 44))  # a cabinet
    draw.rectangle((int(w * 0.83), int(h * 0.18), int(w * 0.96), int(h * 0.21)), fill=(38, 38, 38))  # a shelf
    for y in range(horizon, h):  # concrete floor
        v = 52 - int(20 * (y - horizon) / (h - horizon))
        draw.line([(0, y), (w, y)], fill=(v, v, v))
    for _ in range(14):  # oil stains
        cx, cy = rng.uniform(0, w), rng.uniform(horizon + 20, h)
        rx, ry = rng.uniform(20, 90), rng.uniform(6, 22)
        draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=(35, 35, 35))
    draw.line([(0, horizon), (w, horizon)], fill=(30, 30, 30), width=2 * SCALE)


def render_car(azimuth: float, elevation: float, seed: int) -> Image.Image:
    rng = random.Random(seed)
    size = (WIDTH * SCALE, HEIGHT * SCALE)
    cam = car_render.Camera(azimuth, elevation, size=size)
    image = Image.new("RGB", size)
    draw_garage(image, rng)
    # Soft contact shadow: the car's footprint on the floor, blurred.
    shadow = car_render.footprint_shadow(cam, size).filter(ImageFilter.GaussianBlur(18 * SCALE))
    image.paste((8, 8, 8), mask=shadow)
    canvas = car_render.Canvas(ImageDraw.Draw(image), cam, car_render.lambert(LIGHT_DIR, 0.38), line_scale=SCALE)
    car_render.draw_car(canvas, BODY)
    return image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)


def noise_layer(rng: random.Random, size: tuple[int, int], strength: float) -> Image.Image:
    """Zero-mean (128-centred) triangular noise, from seeded random bytes (effect_noise is unseeded)."""
    count = size[0] * size[1]
    a = Image.frombytes("L", size, rng.randbytes(count))
    b = Image.frombytes("L", size, rng.randbytes(count))
    return ImageChops.add(a, b, 2.0).point(lambda v: max(0, min(255, round(128 + (v - 128) * strength))))


def poorly_lit(image: Image.Image, seed: int, darkness: float, cast: tuple[float, float, float]) -> Image.Image:
    """Dark, flat, noisy, colour-cast and vignetted: a phone photo under one garage lamp.

    The grain goes in before the (multiplicative) cast, so grey stays only slightly tinted even
    in the darkest pixels: chroma speckle would read as "paint" to a colour mask downstream."""
    image = ImageEnhance.Contrast(image).enhance(0.72)
    image = ImageEnhance.Brightness(image).enhance(darkness)
    rng = random.Random(seed)
    grain = noise_layer(rng, image.size, 0.13)
    image = ImageChops.add(image, Image.merge("RGB", (grain, grain, grain)), 1, -128)
    image = image.filter(ImageFilter.GaussianBlur(0.6))
    # The lamp's colour shows where its light falls: the cast grows with brightness, so the
    # shadows stay neutral (a tint there becomes strong colour once someone stretches them).
    channels = [
        band.point(lambda v, k=k: min(255, round(v * (1 + (k - 1) * min(1.0, v / 110) ** 2))))
        for band, k in zip(image.split(), cast, strict=True)
    ]
    image = Image.merge("RGB", channels)
    vignette = Image.radial_gradient("L").resize(image.size).point(lambda v: 255 - int(v * 0.55))
    return ImageChops.multiply(image, Image.merge("RGB", (vignette, vignette, vignette)))


VIEWS = [
    # file name, camera azimuth (0 = straight in front, 90 = the car's right side), elevation, darkness, colour cast
    ("car_front_left.jpg", 322.0, 9.0, 0.58, (1.14, 1.0, 0.80)),
    ("car_side_right.jpg", 90.0, 5.0, 0.52, (1.12, 1.0, 0.82)),
    ("car_rear_right.jpg", 142.0, 10.0, 0.48, (1.15, 1.0, 0.78)),
    ("car_front.jpg", 352.0, 3.0, 0.55, (1.12, 1.0, 0.84)),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for index, (name, azimuth, elevation, darkness, cast) in enumerate(VIEWS):
        photo = poorly_lit(render_car(azimuth, elevation, seed=index), seed=index, darkness=darkness, cast=cast)
        path = args.out / name
        photo.save(path, "JPEG", quality=82, optimize=True, subsampling=0)
        print(f"{path}  {photo.size[0]}x{photo.size[1]}  {path.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
