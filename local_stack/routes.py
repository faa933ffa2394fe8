"""HTTP API route matching, with API Gateway's precedence: the most specific path wins (literal
segments over `{param}` over `{proxy+}`), a method route over `ANY`, `$default` last."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .model import HttpRoute

_PARAM = re.compile(r"^\{([A-Za-z0-9_.-]+)(\+?)\}$")


@dataclass(frozen=True)
class CompiledRoute:
    route: HttpRoute
    pattern: re.Pattern[str] | None
    params: tuple[str, ...]
    specificity: tuple[int, int, int, int]  # higher sorts first


def compile_route(route: HttpRoute) -> CompiledRoute:
    if route.path == "$default":
        return CompiledRoute(route, None, (), (-1, 0, 0, 0))
    parts: list[str] = []
    params: list[str] = []
    literal = greedy = 0
    for segment in route.path.strip("/").split("/") if route.path != "/" else []:
        match = _PARAM.match(segment)
        if match is None:
            parts.append(re.escape(segment))
            literal += 1
        elif match.group(2):
            parts.append(f"(?P<p{len(params)}>.+)")
            params.append(match.group(1))
            greedy = 1
        else:
            parts.append(f"(?P<p{len(params)}>[^/]+)")
            params.append(match.group(1))
    regex = "^/" + "/".join(parts) + "$"
    segments = len(parts)
    method_specific = 0 if route.method == "ANY" else 1
    return CompiledRoute(
        route,
        re.compile(regex),
        tuple(params),
        (1 - greedy, literal, segments, method_specific),
    )


class RouteTable:
    def __init__(self, routes: list[HttpRoute]) -> None:
        compiled = [compile_route(r) for r in routes]
        self._routes = sorted(compiled, key=lambda c: c.specificity, reverse=True)

    @property
    def routes(self) -> list[HttpRoute]:
        return [c.route for c in self._routes]

    def match(self, method: str, raw_path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        """The route for a request and its (decoded) path parameters, or None (→ 404)."""
        method = method.upper()
        for compiled in self._routes:
            route = compiled.route
            if route.method not in ("ANY", method) and route.path != "$default":
                continue
            if compiled.pattern is None:
                return route, {}
            found = compiled.pattern.match(raw_path)
            if found is None:
                continue
            params = {name: unquote(found.group(f"p{i}")) for i, name in enumerate(compiled.params)}
            return route, params
        return None

    def methods_for(self, raw_path: str) -> set[str]:
        """Methods with a route on this path (for CORS preflight answers)."""
        methods: set[str] = set()
        for compiled in self._routes:
            if compiled.pattern is None or compiled.pattern.match(raw_path):
                methods.add(compiled.route.method)
        return methods
