"""One simple car renderer, for the sample photos and for the stand-in's outputs.

A small 3D car (a hatchback's side profile extruded across the width, a narrower cabin, cylinder
wheels with rims, head- and tail-lights, grille, mirrors) is projected with a perspective camera
(``geometry``) and drawn as flat-shaded polygons with Pillow (no numpy).
``samples/photos/make_photos.py`` draws it in a dim garage, lit from one fixed lamp; the
stand-in draws it in a studio (``replicate_standin.studio``), lit from the camera's side, in any
paint and finish.

Drawing is two steps: ``plan_car(camera)`` projects the car into shapes in drawing order with
their colours left open (the projections, hulls, visibility and depth order: the costly part,
and the same for every paint), and ``draw_plan`` fills them in a paint through a shader. The
studio keeps a viewpoint's plan, so an angle's colour jobs only fill polygons.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from PIL import Image, ImageDraw

# Camera, Vec, dot and norm are also used as car_render's (the studio, make_photos).
from .geometry import Camera, Vec, centroid, convex_hull, cross, dot, norm, sub

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


def car_faces() -> list[tuple[list[Vec], bool]]:
    """(polygon, is paint) for the body: both sides and every strip round the profile (the strips
    that are not paint are glass)."""
    faces: list[tuple[list[Vec], bool]] = []
    outline = PROFILE + sill_with_arches()
    for sign in (-1, 1):
        faces.append(([(x, sign * half_width(z), z) for x, z in outline], True))
    for i in range(len(PROFILE) - 1):  # the underside is never seen
        (x0, z0), (x1, z1) = PROFILE[i], PROFILE[i + 1]
        quad = [(x0, -half_width(z0), z0), (x1, -half_width(z1), z1), (x1, half_width(z1), z1), (x0, half_width(z0), z0)]
        faces.append((quad, (i, i + 1) not in GLASS_EDGES))
    return faces


def side_window(sign: int) -> list[Vec]:
    pts = [(0.98, 0.99), (0.36, 1.36), (-0.90, 1.38), (-1.62, 1.03), (-1.50, 0.99)]
    return [(x, sign * (half_width(z) + 0.004), z) for x, z in pts]


def circle(centre: Vec, radius: float, y: float, steps: int = 40) -> list[Vec]:
    return [
        (centre[0] + radius * math.cos(2 * math.pi * k / steps), y, centre[2] + radius * math.sin(2 * math.pi * k / steps))
        for k in range(steps)
    ]


@dataclass(frozen=True)
class Shaded:
    """A colour left open until a plan is drawn: ``base`` (None: the body's paint) through the
    canvas's shader for the outward ``normal``, darkened by ``factor``."""

    base: RGB | None
    normal: Vec
    factor: float = 1.0


@dataclass(frozen=True)
class Step:
    """One shape of a plan, already projected: a polygon (``width`` 0) or a line ``width`` wide
    (before the canvas's ``line_scale``); ``paint``: it shows as paint in the body mask."""

    points: list[tuple[float, float]]
    fill: RGB | Shaded
    paint: bool = False
    width: int = 0


Face = tuple[list[Vec], Vec]
"""A visible painted face: its polygon and outward normal."""


@dataclass
class Canvas:
    """Where the car is drawn: the picture, and optionally a mask of its painted body (255 where
    the paint shows), drawn in step so that glass, wheels and lamps cut holes in it."""

    draw: ImageDraw.ImageDraw
    camera: Camera
    shade: Shader
    mask: ImageDraw.ImageDraw | None = None
    line_scale: int = 2

    def colour(self, fill: RGB | Shaded, body: RGB) -> RGB:
        if not isinstance(fill, Shaded):
            return fill
        colour = self.shade(body if fill.base is None else fill.base, fill.normal)
        return colour if fill.factor == 1.0 else _darker(colour, fill.factor)

    def add(self, step: Step, body: RGB) -> None:
        colour, paint = self.colour(step.fill, body), 255 if step.paint else 0
        if step.width:
            width = step.width * self.line_scale
            self.draw.line(step.points, fill=colour, width=width)
            if self.mask is not None:
                self.mask.line(step.points, fill=paint, width=width)
        else:
            self.draw.polygon(step.points, fill=colour)
            if self.mask is not None:
                self.mask.polygon(step.points, fill=paint)


Reflections = Callable[[Canvas, list[Face]], None]


@dataclass(frozen=True)
class Plan:
    """The car as one camera sees it, as projected shapes in drawing order, colours left open: the
    shapes depend only on the viewpoint, so the colour jobs of one angle share a plan. ``body``
    is drawn, then the reflections on the visible painted ``faces``, then ``details``."""

    camera: Camera
    body: list[Step]
    details: list[Step]
    faces: list[Face]

    def bounds(self, line_scale: int) -> tuple[float, float, float, float]:
        """The box every shape lies in, the lines' widths included."""
        x0 = y0 = math.inf
        x1 = y1 = -math.inf
        for step in self.body + self.details:
            half = step.width * line_scale / 2
            xs, ys = [p[0] for p in step.points], [p[1] for p in step.points]
            x0, y0 = min(x0, min(xs) - half), min(y0, min(ys) - half)
            x1, y1 = max(x1, max(xs) + half), max(y1, max(ys) + half)
        return x0, y0, x1, y1

    def moved(self, dx: float, dy: float) -> Plan:
        """The same plan drawn into the part of the picture whose top left corner is (dx, dy)."""

        def shift(steps: list[Step]) -> list[Step]:
            return [replace(step, points=[(x - dx, y - dy) for x, y in step.points]) for step in steps]

        camera = self.camera.moved((self.camera.offset[0] + dx, self.camera.offset[1] + dy))
        return Plan(camera, shift(self.body), shift(self.details), self.faces)


class _Planner:
    """What the car's parts draw, projected and recorded in order."""

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.steps: list[Step] = []

    def polygon(self, points: Sequence[Vec], fill: RGB | Shaded, paint: bool = False) -> None:
        self.steps.append(Step([self.camera.project(p) for p in points], fill, paint))

    def flat(self, points: Sequence[tuple[float, float]], fill: RGB) -> None:
        self.steps.append(Step(list(points), fill))

    def line(self, points: Sequence[Vec], fill: RGB | Shaded, width: int, paint: bool = False) -> None:
        self.steps.append(Step([self.camera.project(p) for p in points], fill, paint, width))


def draw_wheel(out: _Planner, x: float, sign: int) -> None:
    cam = out.camera
    centre = (x, 0.0, WHEEL_Z)
    outer_y, inner_y = sign * 0.92, sign * 0.66
    outer = circle(centre, WHEEL_R, outer_y)
    inner = circle(centre, WHEEL_R, inner_y)
    out.flat(convex_hull([cam.project(p) for p in outer + inner]), TYRE)
    if cam.faces_camera(outer, (0.0, float(sign), 0.0)):
        out.polygon(outer, (30, 30, 32))
        rim = circle(centre, WHEEL_R * 0.64, outer_y + sign * 0.005)
        out.polygon(rim, lambert((0.45, 0.35, 0.82), 0.55)(RIM, (0.3, sign * 1.0, 0.4)))
        out.polygon(circle(centre, WHEEL_R * 0.16, outer_y + sign * 0.01, 16), (90, 94, 98))
        for k in range(5):  # five spokes
            a = 2 * math.pi * k / 5 + 0.3
            p0 = (x + WHEEL_R * 0.16 * math.cos(a), outer_y + sign * 0.01, WHEEL_Z + WHEEL_R * 0.16 * math.sin(a))
            p1 = (x + WHEEL_R * 0.6 * math.cos(a), outer_y + sign * 0.01, WHEEL_Z + WHEEL_R * 0.6 * math.sin(a))
            out.line([p0, p1], (70, 74, 78), 7)


def draw_arch(out: _Planner, x: float, sign: int) -> None:
    """The dark wheel-arch cavity seen through the cut-out in the body side, behind the wheel."""
    pts = [(x + ARCH_R * math.cos(a), sign * 0.80, 0.31 + ARCH_R * math.sin(a)) for a in (math.pi * k / 20 for k in range(0, 21))]
    out.polygon(pts, (10, 10, 12))


def draw_mirror(out: _Planner, sign: int) -> None:
    mirror = [(0.95, sign * 0.86, 1.00), (0.80, sign * 1.07, 1.02), (0.80, sign * 1.07, 1.13), (0.95, sign * 0.86, 1.13)]
    out.polygon(mirror, Shaded(None, (0.5, sign, 0.3)), paint=True)


def lamp(out: _Planner, edge: tuple[int, int], y0: float, y1: float, t0: float, t1: float, colour: RGB,
         offset: Vec) -> None:
    """A quad on the profile strip `edge`, from fraction t0 to t1 along it, between y0 and y1."""
    (xa, za), (xb, zb) = PROFILE[edge[0]], PROFILE[edge[1]]

    def at(t: float, y: float) -> Vec:
        return (xa + (xb - xa) * t + offset[0], y, za + (zb - za) * t + offset[2])

    quad = [at(t0, y0), at(t1, y0), at(t1, y1), at(t0, y1)]
    if out.camera.faces_camera(quad, outward_normal(quad)):
        out.polygon(quad, colour)


def _darker(colour: RGB, factor: float) -> RGB:
    return (int(colour[0] * factor), int(colour[1] * factor), int(colour[2] * factor))


def plan_car(camera: Camera) -> Plan:
    """The car as ``camera`` sees it, far parts first."""
    cam, out = camera, _Planner(camera)
    near_sign = 1 if cam.position[1] > 0 else -1
    # Wheels (and the arch cavities behind them) before the body: the body hides their tops and
    # the arch cut-outs in the side show them, whatever the view.
    wheels = [(x, sign) for x in WHEELS_X for sign in (-1, 1)]
    wheels.sort(key=lambda w: -cam.depth((w[0], w[1] * 0.9, WHEEL_Z)))
    for x, sign in wheels:
        draw_arch(out, x, sign)
    for x, sign in wheels:
        draw_wheel(out, x, sign)

    draw_mirror(out, -near_sign)  # the far one shows only where the body does not hide it
    if abs(cam.position[1]) <= 0.5:  # straight on: both stick out past the body's sides
        draw_mirror(out, near_sign)
    faces = car_faces()
    faces.sort(key=lambda f: -cam.depth(centroid(f[0])))
    painted: list[Face] = []
    for points, paint in faces:
        normal = outward_normal(points)
        if not cam.faces_camera(points, normal):
            continue
        out.polygon(points, Shaded(None if paint else GLASS, normal), paint=paint)
        if paint:
            painted.append((points, normal))
    body, out.steps = out.steps, []

    if abs(cam.position[1]) > 0.5:  # the near side is visible
        window = side_window(near_sign)
        out.polygon(window, lambert((0.45, 0.35, 0.82), 0.6)(GLASS, (0.2, near_sign, 0.5)))
        pillar = [
            (-0.12, near_sign * 0.83, 0.98),
            (-0.02, near_sign * 0.76, 1.40),
            (-0.18, near_sign * 0.76, 1.40),
            (-0.28, near_sign * 0.83, 0.98),
        ]
        out.polygon(pillar, TRIM)
        seam = Shaded(None, (0.0, float(near_sign), 0.0), 0.45)
        for x0 in (0.95, -0.25):  # door shut lines and handles: darker paint, still paint
            out.line([(x0, near_sign * 0.902, 0.92), (x0 + 0.05, near_sign * 0.902, 0.30)], seam, 2, paint=True)
            out.line([(x0 - 0.40, near_sign * 0.905, 0.80), (x0 - 0.18, near_sign * 0.905, 0.80)], TRIM, 4)
        draw_mirror(out, near_sign)

    for sign in (-1, 1):  # lamps and grille
        lamp(out, (1, 2), sign * 0.52, sign * 0.84, 0.25, 0.85, HEADLIGHT, (0.012, 0, 0))
        lamp(out, (7, 8), sign * 0.50, sign * 0.86, 0.12, 0.55, TAILLIGHT, (-0.012, 0, 0))
    lamp(out, (0, 1), -0.55, 0.55, 0.35, 0.9, (14, 16, 18), (0.012, 0, 0))  # grille
    lamp(out, (8, 9), -0.30, 0.30, 0.15, 0.55, (200, 200, 190), (-0.012, 0, 0))  # number plate
    return Plan(camera, body, out.steps, painted)


def draw_plan(canvas: Canvas, plan: Plan, body: RGB, reflections: Reflections | None = None) -> None:
    """``plan`` in ``body`` paint, lit by the canvas's shader; ``reflections`` (the studio's) draws
    on the visible painted faces once the body is drawn, before the details."""
    for step in plan.body:
        canvas.add(step, body)
    if reflections is not None:
        reflections(canvas, plan.faces)
    for step in plan.details:
        canvas.add(step, body)


def draw_car(canvas: Canvas, body: RGB, reflections: Reflections | None = None) -> None:
    """The car in ``body`` paint as the canvas's camera sees it (see ``draw_plan``)."""
    draw_plan(canvas, plan_car(canvas.camera), body, reflections)


def footprint_shadow(camera: Camera, size: tuple[int, int], fill: int = 190) -> Image.Image:
    """The car's footprint on the floor as an "L" mask (blur it for a soft contact shadow)."""
    shadow = Image.new("L", size, 0)
    footprint = [(2.35, -1.05, 0.0), (2.35, 1.05, 0.0), (-2.35, 1.05, 0.0), (-2.35, -1.05, 0.0)]
    ImageDraw.Draw(shadow).polygon([camera.project(p) for p in footprint], fill=fill)
    return shadow
