"""One simple car renderer, for the sample photos and for the stand-in's outputs.

A small 3D car (a hatchback's side profile extruded across the width, a narrower cabin, cylinder
wheels with rims, head- and tail-lights, grille, mirrors) is projected with a perspective camera
and drawn as flat-shaded polygons with Pillow (no numpy). ``samples/photos/make_photos.py`` draws
it in a dim garage, lit from one fixed lamp; the stand-in draws it in a studio
(``replicate_standin.studio``), lit from the camera's side, in any paint and finish.

Viewpoints: ``azimuth`` 0 = straight in front, 90 = the car's right side, 180 = behind, 270 = its
left side (the camera goes round clockwise seen from above), as the angle presets count degrees;
``elevation`` is the camera's height above the car's middle, in degrees.

Coordinates: x forward, y to the car's left, z up (metres, right-handed).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

Vec = tuple[float, float, float]
RGB = tuple[int, int, int]

GLASS: RGB = (42, 45, 48)  # nearly neutral: tinted glass would read as paint to a colour mask
TRIM: RGB = (24, 26, 28)
TYRE: RGB = (18, 18, 20)
RIM: RGB = (170, 176, 182)
HEADLIGHT: RGB = (236, 232, 200)
TAILLIGHT: RGB = (190, 20, 28)

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

Shader = Callable[[RGB, Vec], RGB]
"""(base colour, outward normal) → the colour a face is drawn in."""


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
    """A perspective camera looking at the car's middle from ``azimuth``/``elevation`` (degrees),
    projecting onto an image of ``size`` pixels."""

    def __init__(
        self,
        azimuth_deg: float,
        elevation_deg: float = 8.0,
        size: tuple[int, int] = (1600, 1200),
        distance: float = 7.2,
        focal: float = 2.3,
    ) -> None:
        az, el = math.radians(azimuth_deg), math.radians(min(max(elevation_deg, -10.0), 85.0))
        if elevation_deg > 45:  # from above the car's length is in the picture's height: step back
            distance *= 1.55
        self.width, self.height = size
        self.target: Vec = (0.0, 0.0, 0.62)
        # Clockwise from the front seen from above: 90 degrees is the car's right side (-y).
        self.position: Vec = (
            distance * math.cos(az) * math.cos(el),
            -distance * math.sin(az) * math.cos(el),
            0.62 + distance * math.sin(el),
        )
        self.forward = norm(sub(self.target, self.position))
        self.right = norm(cross(self.forward, (0.0, 0.0, 1.0)))
        self.up = cross(self.right, self.forward)
        self.focal = focal * self.width / 2

    def project(self, p: Vec) -> tuple[float, float]:
        d = sub(p, self.position)
        z = max(dot(d, self.forward), 1e-3)
        return (self.width / 2 + self.focal * dot(d, self.right) / z, self.height * 0.58 - self.focal * dot(d, self.up) / z)

    def depth(self, p: Vec) -> float:
        return dot(sub(p, self.position), self.forward)

    def faces_camera(self, points: Sequence[Vec], outward: Vec) -> bool:
        return dot(outward, sub(self.position, centroid(points))) > 0

    def to_camera(self, points: Sequence[Vec]) -> Vec:
        """The unit vector from a face towards the camera."""
        return norm(sub(self.position, centroid(points)))


def lambert(light_dir: Vec, ambient: float) -> Shader:
    """One lamp in a fixed direction (the garage): ambient plus diffuse."""
    light = norm(light_dir)

    def shade(colour: RGB, normal: Vec) -> RGB:
        factor = ambient + (1 - ambient) * max(0.0, dot(norm(normal), light))
        return (min(255, int(colour[0] * factor)), min(255, int(colour[1] * factor)), min(255, int(colour[2] * factor)))

    return shade


def outward_normal(points: Sequence[Vec]) -> Vec:
    n = norm(cross(sub(points[1], points[0]), sub(points[2], points[0])))
    c = centroid(points)
    if dot(n, sub(c, (0.0, 0.0, 0.7))) < 0:
        n = (-n[0], -n[1], -n[2])
    return n


def car_faces(body: RGB) -> list[tuple[list[Vec], RGB, bool]]:
    """(polygon, base colour, is paint) for the body: both sides and every strip round the profile."""
    faces: list[tuple[list[Vec], RGB, bool]] = []
    outline = PROFILE + sill_with_arches()
    for sign in (-1, 1):
        faces.append(([(x, sign * half_width(z), z) for x, z in outline], body, True))
    for i in range(len(PROFILE) - 1):  # the underside is never seen
        (x0, z0), (x1, z1) = PROFILE[i], PROFILE[i + 1]
        quad = [(x0, -half_width(z0), z0), (x1, -half_width(z1), z1), (x1, half_width(z1), z1), (x0, half_width(z0), z0)]
        glass = (i, i + 1) in GLASS_EDGES
        faces.append((quad, GLASS if glass else body, not glass))
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


@dataclass
class Canvas:
    """Where the car is drawn: the picture, and optionally a mask of its painted body (255 where
    the paint shows), drawn in step so that glass, wheels and lamps cut holes in it."""

    draw: ImageDraw.ImageDraw
    camera: Camera
    shade: Shader
    mask: ImageDraw.ImageDraw | None = None
    line_scale: int = 2

    def polygon(self, points: Sequence[Vec], fill: RGB, paint: bool = False) -> None:
        projected = [self.camera.project(p) for p in points]
        self.draw.polygon(projected, fill=fill)
        if self.mask is not None:
            self.mask.polygon(projected, fill=255 if paint else 0)

    def flat(self, points: Sequence[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon(list(points), fill=fill)
        if self.mask is not None:
            self.mask.polygon(list(points), fill=0)

    def line(self, points: Sequence[Vec], fill: RGB, width: int, paint: bool = False) -> None:
        projected = [self.camera.project(p) for p in points]
        self.draw.line(projected, fill=fill, width=width * self.line_scale)
        if self.mask is not None:
            self.mask.line(projected, fill=255 if paint else 0, width=width * self.line_scale)


def draw_wheel(canvas: Canvas, x: float, sign: int) -> None:
    cam = canvas.camera
    centre = (x, 0.0, WHEEL_Z)
    outer_y, inner_y = sign * 0.92, sign * 0.66
    outer = circle(centre, WHEEL_R, outer_y)
    inner = circle(centre, WHEEL_R, inner_y)
    canvas.flat(convex_hull([cam.project(p) for p in outer + inner]), TYRE)
    if cam.faces_camera(outer, (0.0, float(sign), 0.0)):
        canvas.polygon(outer, (30, 30, 32))
        rim = circle(centre, WHEEL_R * 0.64, outer_y + sign * 0.005)
        canvas.polygon(rim, lambert((0.45, 0.35, 0.82), 0.55)(RIM, (0.3, sign * 1.0, 0.4)))
        canvas.polygon(circle(centre, WHEEL_R * 0.16, outer_y + sign * 0.01, 16), (90, 94, 98))
        for k in range(5):  # five spokes
            a = 2 * math.pi * k / 5 + 0.3
            p0 = (x + WHEEL_R * 0.16 * math.cos(a), outer_y + sign * 0.01, WHEEL_Z + WHEEL_R * 0.16 * math.sin(a))
            p1 = (x + WHEEL_R * 0.6 * math.cos(a), outer_y + sign * 0.01, WHEEL_Z + WHEEL_R * 0.6 * math.sin(a))
            canvas.line([p0, p1], (70, 74, 78), 7)


def draw_arch(canvas: Canvas, x: float, sign: int) -> None:
    """The dark wheel-arch cavity seen through the cut-out in the body side, behind the wheel."""
    pts = [(x + ARCH_R * math.cos(a), sign * 0.80, 0.31 + ARCH_R * math.sin(a)) for a in (math.pi * k / 20 for k in range(0, 21))]
    canvas.polygon(pts, (10, 10, 12))


def draw_mirror(canvas: Canvas, body: RGB, sign: int) -> None:
    mirror = [(0.95, sign * 0.86, 1.00), (0.80, sign * 1.07, 1.02), (0.80, sign * 1.07, 1.13), (0.95, sign * 0.86, 1.13)]
    canvas.polygon(mirror, canvas.shade(body, (0.5, sign, 0.3)), paint=True)


def lamp(canvas: Canvas, edge: tuple[int, int], y0: float, y1: float, t0: float, t1: float, colour: RGB,
         offset: Vec) -> None:
    """A quad on the profile strip `edge`, from fraction t0 to t1 along it, between y0 and y1."""
    (xa, za), (xb, zb) = PROFILE[edge[0]], PROFILE[edge[1]]

    def at(t: float, y: float) -> Vec:
        return (xa + (xb - xa) * t + offset[0], y, za + (zb - za) * t + offset[2])

    quad = [at(t0, y0), at(t1, y0), at(t1, y1), at(t0, y1)]
    if canvas.camera.faces_camera(quad, outward_normal(quad)):
        canvas.polygon(quad, colour)


def _darker(colour: RGB, factor: float) -> RGB:
    return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))


def draw_car(canvas: Canvas, body: RGB, reflections: Callable[[Canvas, list[tuple[list[Vec], Vec]]], None] | None = None) -> None:
    """The car in ``body`` paint, far parts first. ``reflections`` (the studio's) draws on the
    visible painted faces (polygon, outward normal) once the body is drawn, before the details."""
    cam = canvas.camera
    near_sign = 1 if cam.position[1] > 0 else -1
    # Wheels (and the arch cavities behind them) before the body: the body hides their tops and
    # the arch cut-outs in the side show them, whatever the view.
    wheels = [(x, sign) for x in WHEELS_X for sign in (-1, 1)]
    wheels.sort(key=lambda w: -cam.depth((w[0], w[1] * 0.9, WHEEL_Z)))
    for x, sign in wheels:
        draw_arch(canvas, x, sign)
    for x, sign in wheels:
        draw_wheel(canvas, x, sign)

    draw_mirror(canvas, body, -near_sign)  # the far one shows only where the body does not hide it
    if abs(cam.position[1]) <= 0.5:  # straight on: both stick out past the body's sides
        draw_mirror(canvas, body, near_sign)
    faces = car_faces(body)
    faces.sort(key=lambda f: -cam.depth(centroid(f[0])))
    painted: list[tuple[list[Vec], Vec]] = []
    for points, colour, paint in faces:
        normal = outward_normal(points)
        if not cam.faces_camera(points, normal):
            continue
        canvas.polygon(points, canvas.shade(colour, normal), paint=paint)
        if paint:
            painted.append((points, normal))
    if reflections is not None:
        reflections(canvas, painted)

    if abs(cam.position[1]) > 0.5:  # the near side is visible
        window = side_window(near_sign)
        canvas.polygon(window, lambert((0.45, 0.35, 0.82), 0.6)(GLASS, (0.2, near_sign, 0.5)))
        pillar = [
            (-0.12, near_sign * 0.83, 0.98),
            (-0.02, near_sign * 0.76, 1.40),
            (-0.18, near_sign * 0.76, 1.40),
            (-0.28, near_sign * 0.83, 0.98),
        ]
        canvas.polygon(pillar, TRIM)
        seam = _darker(canvas.shade(body, (0.0, float(near_sign), 0.0)), 0.45)
        for x0 in (0.95, -0.25):  # door shut lines and handles: darker paint, still paint
            canvas.line([(x0, near_sign * 0.902, 0.92), (x0 + 0.05, near_sign * 0.902, 0.30)], seam, 2, paint=True)
            canvas.line([(x0 - 0.40, near_sign * 0.905, 0.80), (x0 - 0.18, near_sign * 0.905, 0.80)], TRIM, 4)
        draw_mirror(canvas, body, near_sign)

    for sign in (-1, 1):  # lamps and grille
        lamp(canvas, (1, 2), sign * 0.52, sign * 0.84, 0.25, 0.85, HEADLIGHT, (0.012, 0, 0))
        lamp(canvas, (7, 8), sign * 0.50, sign * 0.86, 0.12, 0.55, TAILLIGHT, (-0.012, 0, 0))
    lamp(canvas, (0, 1), -0.55, 0.55, 0.35, 0.9, (14, 16, 18), (0.012, 0, 0))  # grille
    lamp(canvas, (8, 9), -0.30, 0.30, 0.15, 0.55, (200, 200, 190), (-0.012, 0, 0))  # number plate


def footprint_shadow(camera: Camera, size: tuple[int, int], fill: int = 190) -> Image.Image:
    """The car's footprint on the floor as an "L" mask (blur it for a soft contact shadow)."""
    shadow = Image.new("L", size, 0)
    footprint = [(2.35, -1.05, 0.0), (2.35, 1.05, 0.0), (-2.35, 1.05, 0.0), (-2.35, -1.05, 0.0)]
    ImageDraw.Draw(shadow).polygon([camera.project(p) for p in footprint], fill=fill)
    return shadow
