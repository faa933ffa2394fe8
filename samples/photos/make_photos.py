"""Draw the bundled sample photos: one teal hatchback-ish car, four positions, a dim garage.

No free photo can be downloaded where this project is built, so the "dealer photos" are drawn:
a small 3D car model (a side profile extruded across the width, a narrower cabin, cylinder
wheels with rims, head- and tail-lights, grille, mirrors) is projected with a perspective
camera from the front-left, the right side, the rear-right and the front, painted with simple
Lambert shading on a dark garage background, then made "poorly lit": darkened, low contrast,
a warm sodium-lamp colour cast, vignetting and sensor noise. Deterministic (fixed seeds).

    python samples/photos/make_photos.py            # rewrites the JPEGs next to this file
    python samples/photos/make_photos.py --out DIR  # elsewhere
"""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter

WIDTH, HEIGHT = 800, 600
SCALE = 2  # drawn at 2x, then downsampled (anti-aliasing)
BODY = (0, 158, 146)  # saturated teal: colourisation must visibly change it
GLASS = (42, 45, 48)  # nearly neutral: tinted glass would be repainted with the body
TRIM = (24, 26, 28)
TYRE = (18, 18, 20)
RIM = (170, 176, 182)
HEADLIGHT = (236, 232, 200)
TAILLIGHT = (190, 20, 28)
LIGHT_DIR = (0.45, 0.35, 0.82)  # from the front-left, above

Vec = tuple[float, float, float]

# Side profile (x forward, z up), metres, clockwise from the front bottom.
PROFILE: list[tuple[float, float]] = [
    (2.18, 0.31),  # 0 front lower
    (2.27, 0.52),  # 1 bumper nose
    (2.18, 0.78),  # 2 hood front edge
    (1.05, 0.93),  # 3 windscreen base
    (0.30, 1.42),  # 4 roof front
    (-0.95, 1.44),  # 5 roof rear
    (-1.78, 1.02),  # 6 rear window base
    (-2.15, 0.97),  # 7 boot edge
    (-2.24, 0.62),  # 8 rear bumper
    (-2.16, 0.31),  # 9 rear lower
]
GLASS_EDGES = {(3, 4), (5, 6)}  # windscreen and rear window
WHEELS_X = (1.38, -1.38)
WHEEL_Z = 0.34
WHEEL_R = 0.34
ARCH_R = 0.43


def sill_with_arches() -> list[tuple[float, float]]:
    """The bottom edge from the rear to the front, with a semicircular cut-out over each wheel."""
    points: list[tuple[float, float]] = []
    for x in sorted(WHEELS_X):
        points += [
            (x + ARCH_R * math.cos(a), 0.31 + ARCH_R * math.sin(a)) for a in (math.pi - math.pi * k / 16 for k in range(17))
        ]
    return points


def half_width(z: float) -> float:
    """Body 1.8 m wide, the cabin above the belt line narrower (tumblehome)."""
    if z <= 0.9:
        return 0.9
    return 0.9 - 0.2 * min(1.0, (z - 0.9) / 0.5)


def sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def norm(a: Vec) -> Vec:
    length = math.sqrt(dot(a, a)) or 1.0
    return (a[0] / length, a[1] / length, a[2] / length)


def centroid(points: Sequence[Vec]) -> Vec:
    n = len(points)
    return (sum(p[0] for p in points) / n, sum(p[1] for p in points) / n, sum(p[2] for p in points) / n)


class Camera:
    def __init__(self, azimuth_deg: float, elevation_deg: float = 8.0, distance: float = 7.2, focal: float = 2.3):
        az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
        self.target: Vec = (0.0, 0.0, 0.62)
        self.position: Vec = (
            distance * math.cos(az) * math.cos(el),
            distance * math.sin(az) * math.cos(el),
            0.62 + distance * math.sin(el),
        )
        self.forward = norm(sub(self.target, self.position))
        self.right = norm(cross(self.forward, (0.0, 0.0, 1.0)))
        self.up = cross(self.right, self.forward)
        self.focal = focal * WIDTH * SCALE / 2

    def project(self, p: Vec) -> tuple[float, float]:
        d = sub(p, self.position)
        z = max(dot(d, self.forward), 1e-3)
        return (WIDTH * SCALE / 2 + self.focal * dot(d, self.right) / z, HEIGHT * SCALE * 0.58 - self.focal * dot(d, self.up) / z)

    def depth(self, p: Vec) -> float:
        return dot(sub(p, self.position), self.forward)

    def faces_camera(self, points: Sequence[Vec], outward: Vec) -> bool:
        return dot(outward, sub(self.position, centroid(points))) > 0


def shade(colour: tuple[int, int, int], normal: Vec, ambient: float = 0.38) -> tuple[int, int, int]:
    light = max(0.0, dot(norm(normal), norm(LIGHT_DIR)))
    factor = ambient + (1 - ambient) * light
    return tuple(min(255, int(c * factor)) for c in colour)  # type: ignore[return-value]


def outward_normal(points: Sequence[Vec]) -> Vec:
    n = norm(cross(sub(points[1], points[0]), sub(points[2], points[0])))
    c = centroid(points)
    if dot(n, sub(c, (0.0, 0.0, 0.7))) < 0:
        n = (-n[0], -n[1], -n[2])
    return n


def car_faces() -> list[tuple[list[Vec], tuple[int, int, int], str]]:
    """(polygon, base colour, kind) for the body: both sides and every strip around the profile."""
    faces: list[tuple[list[Vec], tuple[int, int, int], str]] = []
    outline = PROFILE + sill_with_arches()
    for sign in (-1, 1):
        faces.append(([(x, sign * half_width(z), z) for x, z in outline], BODY, "side"))
    for i in range(len(PROFILE) - 1):  # the underside is never seen
        (x0, z0), (x1, z1) = PROFILE[i], PROFILE[i + 1]
        quad = [(x0, -half_width(z0), z0), (x1, -half_width(z1), z1), (x1, half_width(z1), z1), (x0, half_width(z0), z0)]
        faces.append((quad, GLASS if (i, i + 1) in GLASS_EDGES else BODY, "strip"))
    return faces


def side_window(sign: int) -> list[Vec]:
    pts = [(0.98, 0.99), (0.36, 1.36), (-0.90, 1.38), (-1.62, 1.03), (-1.50, 0.99)]
    return [(x, sign * (half_width(z) + 0.004), z) for x, z in pts]


def circle(centre: Vec, radius: float, y: float, steps: int = 40) -> list[Vec]:
    return [
        (centre[0] + radius * math.cos(2 * math.pi * k / steps), y, centre[2] + radius * math.sin(2 * math.pi * k / steps))
        for k in range(steps)
    ]


def convex_hull(points: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    pts = sorted(set(points))
    if len(pts) <= 2:
        return pts

    def turn(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and turn(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and turn(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]


def draw_wheel(draw: ImageDraw.ImageDraw, cam: Camera, x: float, sign: int) -> None:
    centre = (x, 0.0, WHEEL_Z)
    outer_y, inner_y = sign * 0.92, sign * 0.66
    outer = circle(centre, WHEEL_R, outer_y)
    inner = circle(centre, WHEEL_R, inner_y)
    hull = convex_hull([cam.project(p) for p in outer + inner])
    draw.polygon(hull, fill=TYRE)
    if cam.faces_camera(outer, (0.0, float(sign), 0.0)):
        draw.polygon([cam.project(p) for p in outer], fill=(30, 30, 32))
        rim = circle(centre, WHEEL_R * 0.64, outer_y + sign * 0.005)
        draw.polygon([cam.project(p) for p in rim], fill=shade(RIM, (0.3, sign * 1.0, 0.4), 0.55))
        hub = circle(centre, WHEEL_R * 0.16, outer_y + sign * 0.01, 16)
        draw.polygon([cam.project(p) for p in hub], fill=(90, 94, 98))
        for k in range(5):  # five spokes
            a = 2 * math.pi * k / 5 + 0.3
            p0 = cam.project((x + WHEEL_R * 0.16 * math.cos(a), outer_y + sign * 0.01, WHEEL_Z + WHEEL_R * 0.16 * math.sin(a)))
            p1 = cam.project((x + WHEEL_R * 0.6 * math.cos(a), outer_y + sign * 0.01, WHEEL_Z + WHEEL_R * 0.6 * math.sin(a)))
            draw.line([p0, p1], fill=(70, 74, 78), width=7 * SCALE)


def draw_arch(draw: ImageDraw.ImageDraw, cam: Camera, x: float, sign: int) -> None:
    """The dark wheel-arch cavity seen through the cut-out in the body side, behind the wheel."""
    pts = [(x + ARCH_R * math.cos(a), sign * 0.80, 0.31 + ARCH_R * math.sin(a)) for a in (math.pi * k / 20 for k in range(0, 21))]
    draw.polygon([cam.project(p) for p in pts], fill=(10, 10, 12))


def draw_mirror(draw: ImageDraw.ImageDraw, cam: Camera, sign: int) -> None:
    mirror = [(0.95, sign * 0.86, 1.00), (0.80, sign * 1.07, 1.02), (0.80, sign * 1.07, 1.13), (0.95, sign * 0.86, 1.13)]
    draw.polygon([cam.project(p) for p in mirror], fill=shade(BODY, (0.5, sign, 0.3)))


def lamp(
    draw: ImageDraw.ImageDraw,
    cam: Camera,
    edge: tuple[int, int],
    y0: float,
    y1: float,
    t0: float,
    t1: float,
    colour: tuple[int, int, int],
    offset: Vec,
) -> None:
    """A quad on the profile strip `edge`, from fraction t0 to t1 along it, between y0 and y1."""
    (xa, za), (xb, zb) = PROFILE[edge[0]], PROFILE[edge[1]]

    def at(t: float, y: float) -> Vec:
        return (xa + (xb - xa) * t + offset[0], y, za + (zb - za) * t + offset[2])

    quad = [at(t0, y0), at(t1, y0), at(t1, y1), at(t0, y1)]
    if cam.faces_camera(quad, outward_normal(quad)):
        draw.polygon([cam.project(p) for p in quad], fill=colour)


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
    cam = Camera(azimuth, elevation)
    image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE))
    draw_garage(image, rng)

    # Soft contact shadow: the car's footprint on the floor, blurred.
    shadow = Image.new("L", image.size, 0)
    footprint = [(2.35, -1.05, 0.0), (2.35, 1.05, 0.0), (-2.35, 1.05, 0.0), (-2.35, -1.05, 0.0)]
    ImageDraw.Draw(shadow).polygon([cam.project(p) for p in footprint], fill=190)
    shadow = shadow.filter(ImageFilter.GaussianBlur(18 * SCALE))
    image.paste((8, 8, 8), mask=shadow)

    draw = ImageDraw.Draw(image)
    near_sign = 1 if cam.position[1] > 0 else -1
    # Wheels (and the arch cavities behind them) before the body: the body hides their tops and
    # the arch cut-outs in the side show them, whatever the view.
    wheels = [(x, sign) for x in WHEELS_X for sign in (-1, 1)]
    wheels.sort(key=lambda w: -cam.depth((w[0], w[1] * 0.9, WHEEL_Z)))
    for x, sign in wheels:
        draw_arch(draw, cam, x, sign)
    for x, sign in wheels:
        draw_wheel(draw, cam, x, sign)

    draw_mirror(draw, cam, -near_sign)  # the far one shows only where the body does not hide it
    faces = car_faces()
    faces.sort(key=lambda f: -cam.depth(centroid(f[0])))
    for points, colour, _kind in faces:
        normal = outward_normal(points)
        if not cam.faces_camera(points, normal):
            continue
        draw.polygon([cam.project(p) for p in points], fill=shade(colour, normal))

    if abs(cam.position[1]) > 0.5:  # the near side is visible
        window = side_window(near_sign)
        draw.polygon([cam.project(p) for p in window], fill=shade(GLASS, (0.2, near_sign, 0.5), 0.6))
        pillar = [
            (-0.12, near_sign * 0.83, 0.98),
            (-0.02, near_sign * 0.76, 1.40),
            (-0.18, near_sign * 0.76, 1.40),
            (-0.28, near_sign * 0.83, 0.98),
        ]
        draw.polygon([cam.project(p) for p in pillar], fill=TRIM)
        for x0 in (0.95, -0.25):  # door shut lines and handles
            line = [cam.project((x0, near_sign * 0.902, 0.92)), cam.project((x0 + 0.05, near_sign * 0.902, 0.30))]
            draw.line(line, fill=(0, 70, 66), width=2 * SCALE)
            handle = [cam.project((x0 - 0.40, near_sign * 0.905, 0.80)), cam.project((x0 - 0.18, near_sign * 0.905, 0.80))]
            draw.line(handle, fill=(20, 60, 58), width=4 * SCALE)
        draw_mirror(draw, cam, near_sign)

    for sign in (-1, 1):  # lamps and grille
        lamp(draw, cam, (1, 2), sign * 0.52, sign * 0.84, 0.25, 0.85, HEADLIGHT, (0.012, 0, 0))
        lamp(draw, cam, (7, 8), sign * 0.50, sign * 0.86, 0.12, 0.55, TAILLIGHT, (-0.012, 0, 0))
    lamp(draw, cam, (0, 1), -0.55, 0.55, 0.35, 0.9, (14, 16, 18), (0.012, 0, 0))  # grille
    lamp(draw, cam, (8, 9), -0.30, 0.30, 0.15, 0.55, (200, 200, 190), (-0.012, 0, 0))  # number plate

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
    # file name, camera azimuth (0 = straight in front, 90 = right side), elevation, darkness, colour cast
    ("car_front_left.jpg", -38.0, 9.0, 0.58, (1.14, 1.0, 0.80)),
    ("car_side_right.jpg", 90.0, 5.0, 0.52, (1.12, 1.0, 0.82)),
    ("car_rear_right.jpg", 142.0, 10.0, 0.48, (1.15, 1.0, 0.78)),
    ("car_front.jpg", 8.0, 3.0, 0.55, (1.12, 1.0, 0.84)),
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
