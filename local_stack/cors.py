"""HTTP API CORS: preflight answers and response headers from `CorsConfiguration`, with the
local page's origins added."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def _lower(values: Iterable[Any] | None) -> list[str]:
    return [str(v).strip().lower() for v in values or []]


@dataclass(frozen=True)
class Cors:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...]
    expose: tuple[str, ...]
    max_age: int | None
    credentials: bool

    @classmethod
    def from_configs(
        cls,
        configs: Iterable[Mapping[str, Any] | None],
        extra_origins: Iterable[str] = (),
        extra_headers: Iterable[str] = (),
    ) -> Cors | None:
        present = [c for c in configs if c]
        if not present:
            return None
        origins: list[str] = []
        methods: list[str] = []
        headers: list[str] = []
        expose: list[str] = []
        max_age: int | None = None
        credentials = False
        for config in present:
            origins += _lower(config.get("AllowOrigins"))
            methods += [m.upper() for m in _lower(config.get("AllowMethods"))]
            headers += _lower(config.get("AllowHeaders"))
            expose += _lower(config.get("ExposeHeaders"))
            if config.get("MaxAge") is not None:
                max_age = max(max_age or 0, int(config["MaxAge"]))
            credentials = credentials or bool(config.get("AllowCredentials"))
        origins += _lower(extra_origins)
        headers += _lower(extra_headers)
        return cls(
            tuple(dict.fromkeys(origins)),
            tuple(dict.fromkeys(methods)),
            tuple(dict.fromkeys(headers)),
            tuple(dict.fromkeys(expose)),
            max_age,
            credentials,
        )

    def allows(self, origin: str) -> bool:
        return "*" in self.origins or origin.lower() in self.origins

    def _allow_origin(self, origin: str) -> str:
        return "*" if "*" in self.origins and not self.credentials else origin

    def preflight(self, origin: str, method: str, request_headers: str) -> list[tuple[str, str]]:
        if not origin or not self.allows(origin):
            return []
        if "*" not in self.methods and method.upper() not in self.methods:
            return []
        wanted = [h.strip().lower() for h in request_headers.split(",") if h.strip()]
        if "*" not in self.headers and any(h not in self.headers for h in wanted):
            return []
        result = [
            ("access-control-allow-origin", self._allow_origin(origin)),
            ("access-control-allow-methods", method.upper() if "*" in self.methods else ",".join(self.methods)),
        ]
        if wanted:
            allowed = ",".join(wanted) if "*" in self.headers else ",".join(self.headers)
            result.append(("access-control-allow-headers", allowed))
        if self.max_age is not None:
            result.append(("access-control-max-age", str(self.max_age)))
        if self.credentials:
            result.append(("access-control-allow-credentials", "true"))
        result.append(("vary", "origin"))
        return result

    def response_headers(self, origin: str) -> list[tuple[str, str]]:
        if not origin or not self.allows(origin):
            return []
        result = [("access-control-allow-origin", self._allow_origin(origin)), ("vary", "origin")]
        if self.expose:
            result.append(("access-control-expose-headers", ",".join(self.expose)))
        if self.credentials:
            result.append(("access-control-allow-credentials", "true"))
        return result
