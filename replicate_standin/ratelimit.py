"""Replicate's request rate limits: a token bucket per API token.

Replicate documents 600 requests per minute for creating predictions and 3000 per minute for
every other endpoint, "short bursts of requests above the default rate limits before being
throttled", and a 429 ``{"detail": "Request was throttled. Your rate limit resets in ~30s."}``
when a limit is hit. ``TokenBucket`` is that rule, pure (the clock is injected): each key (an
API token) holds up to ``burst`` tokens, refilled continuously at ``per_minute / 60`` a second;
a request takes one token, or is refused (without taking anything) with the seconds until one
is available.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

RATE_LIMIT_SCOPES = ("create", "other")
"""``create``: the two create-prediction endpoints; ``other``: every other ``/v1`` endpoint."""


def default_burst(per_minute: int) -> int:
    """10 seconds' worth of requests (at least 1): 100 at Replicate's 600/min create limit."""
    return max(1, math.ceil(per_minute / 6))


def retry_after_seconds(wait: float) -> int:
    """A ``Retry-After`` value in whole seconds: the wait rounded up, at least 1."""
    return max(1, math.ceil(wait - 1e-9))


def throttled_detail(seconds: int) -> str:
    """Replicate's 429 ``detail``."""
    return f"Request was throttled. Your rate limit resets in ~{seconds}s."


def token_label(authorization: str | None) -> str:
    """A name for the API token of a request that is safe to show (reports, logs): a short
    hash of the token, or ``anonymous`` without one."""
    if not authorization:
        return "anonymous"
    _, _, token = authorization.strip().partition(" ")
    token = token.strip() or authorization.strip()
    return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:10]


class TokenBucket:
    """Per-key token buckets. ``per_minute == 0`` turns the limit off (every request passes).

    Thread-safe; ``clock`` returns seconds (``time.monotonic`` by default).
    """

    def __init__(
        self,
        per_minute: int,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if per_minute < 0:
            raise ValueError("per_minute must be >= 0 (0 = no limit)")
        if burst is not None and burst < 1:
            raise ValueError("burst must be at least 1")
        self.per_minute = per_minute
        self.burst = burst if burst is not None else default_burst(per_minute)
        self._rate = per_minute / 60.0  # tokens per second
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key → (tokens, as of)

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def _level(self, key: str, now: float) -> float:
        tokens, since = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + max(0.0, now - since) * self._rate)

    def acquire(self, key: str) -> float:
        """Take one token for ``key``: ``0.0`` when granted, else the seconds until a token
        will be available (nothing is taken)."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            tokens = self._level(key, now)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self._rate

    def refund(self, key: str) -> None:
        """Give back a token taken by a request that was refused for another reason."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            self._buckets[key] = (min(float(self.burst), self._level(key, now) + 1.0), now)

    def available(self, key: str) -> float:
        """Tokens ``key`` holds now (``burst`` for a key never seen; ``inf`` when off)."""
        if not self.enabled:
            return math.inf
        with self._lock:
            return self._level(key, self._clock())
