"""Vectors, the perspective camera the car is seen through, and a 2D convex hull (no numpy).

Coordinates: x forward, y to the car's left, z up (metres, right-handed). Viewpoints: ``azimuth``
0 = straight in front, 90 = the car's right side, 180 = behind, 270 = its left side (clockwise
seen from above), ``elevation`` the camera's height above the car's middle, in degrees.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Sequence

Vec = tuple[float, float, float]


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
        # ``offset``: the top left corner of the part of the picture drawn on (``moved``: the
        # studio draws only the car's box at the supersampled size).
        self.offset = (0.0, 0.0)
        self._centre = (self.width / 2, self.height * 0.58)

    def moved(self, offset: tuple[float, float]) -> Camera:
        """The same camera projecting into the part of the picture whose top left corner is ``offset``."""
        moved = copy.copy(self)
        moved.offset, moved._centre = offset, (self.width / 2 - offset[0], self.height * 0.58 - offset[1])
        return moved

    def project(self, p: Vec) -> tuple[float, float]:
        (px, py, pz), (cx, cy, cz) = p, self.position
        dx, dy, dz = px - cx, py - cy, pz - cz
        f, r, u = self.forward, self.right, self.up
        z = max(dx * f[0] + dy * f[1] + dz * f[2], 1e-3)
        scale = self.focal / z
        return (self._centre[0] + scale * (dx * r[0] + dy * r[1] + dz * r[2]),
                self._centre[1] - scale * (dx * u[0] + dy * u[1] + dz * u[2]))

    def depth(self, p: Vec) -> float:
        return dot(sub(p, self.position), self.forward)

    def faces_camera(self, points: Sequence[Vec], outward: Vec) -> bool:
        return dot(outward, sub(self.position, centroid(points))) > 0

    def to_camera(self, points: Sequence[Vec]) -> Vec:
        """The unit vector from a face towards the camera."""
        return norm(sub(self.position, centroid(points)))


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
