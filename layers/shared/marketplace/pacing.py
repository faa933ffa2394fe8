"""Pacing of prediction creates against Replicate's create limit (600 a minute per account).

Every create takes a slot from one shared schedule (a DynamoDB counter, ``store.pacer``): slots
are ``60 / rate`` seconds apart, and after a quiet spell up to ``burst`` slots lie in the past, so
a small batch goes at once. A slot a few seconds away is waited for inside RunPrediction; a later
one is waited for by the workflow (a Wait state costs nothing while it waits), however long the
queue. A finished angle reserves its colour jobs' slots in one step (``ColorPace``); each colour
job finds its own slot from its index. A 429 still happens when something else spends the same
token: then the cell waits as long as Replicate's Retry-After says and takes a new slot.

Pure: times are epoch milliseconds passed in.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeGuard

# Waited inside RunPrediction: shorter than any Lambda timeout, and long enough that the
# workflow's 1 s-granular Wait is only used for slots well ahead.
INLINE_WAIT_SECONDS = 3.0


@dataclass(frozen=True)
class Pacing:
    """The product's side of the limit; ``creates_per_minute`` 0 turns pacing off."""

    creates_per_minute: int
    burst: int

    @property
    def enabled(self) -> bool:
        return self.creates_per_minute > 0

    @property
    def interval_ms(self) -> int:
        return math.ceil(60_000 / self.creates_per_minute) if self.enabled else 0

    @property
    def burst_ms(self) -> int:
        """How far the schedule may lie in the past: ``burst`` slots due at once (0 and 1 alike)."""
        return max(0, self.burst - 1) * self.interval_ms


@dataclass(frozen=True)
class ColorPace:
    """Slots reserved for a finished angle's colour jobs: job ``i`` goes at ``start + i * interval``."""

    start_ms: int
    interval_ms: int

    def slot_ms(self, index: int) -> int:
        return self.start_ms + max(0, index) * self.interval_ms

    def as_output(self) -> dict[str, int]:
        return {"startMs": self.start_ms, "intervalMs": self.interval_ms}

    @classmethod
    def from_output(cls, data: object) -> ColorPace | None:
        """From the angle task's output (untrusted shape: anything odd means no reservation)."""
        if not isinstance(data, dict):
            return None
        start, interval = data.get("startMs"), data.get("intervalMs")
        if not _whole(start) or not _whole(interval):
            return None
        return cls(start, interval)


def _whole(value: object) -> TypeGuard[int]:
    """A non-negative int (JSON's true/false are not numbers here)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Wait:
    """Not yet: the workflow waits ``seconds`` (whole, at least 1) and calls again with ``slot_ms``
    (None: take a new slot then)."""

    seconds: int
    slot_ms: int | None

    def as_output(self) -> dict[str, int | None]:
        return {"waitSeconds": self.seconds, "slotMs": self.slot_ms}


def until_slot(slot_ms: int, now_ms: int) -> float | Wait:
    """Seconds to sleep before creating (0 when due), or a Wait for the workflow when the slot is
    further than INLINE_WAIT_SECONDS away. The Wait ends up to a second early; the call that
    follows sleeps the rest."""
    ahead = (slot_ms - now_ms) / 1000
    if ahead <= 0:
        return 0.0
    if ahead <= INLINE_WAIT_SECONDS:
        return ahead
    return Wait(seconds=max(1, math.floor(ahead)), slot_ms=slot_ms)


def after_throttle(retry_after_seconds: float, jitter: float) -> Wait:
    """Replicate said 429: wait what it asked plus up to a second of jitter (``jitter`` in [0, 1))
    so that cells told the same thing do not all come back in the same instant; then a new slot."""
    return Wait(seconds=max(1, math.ceil(retry_after_seconds + jitter)), slot_ms=None)
