"""Create slots from the shared schedule (``marketplace.pacing`` decides, ``store.pacer`` keeps it):
for one cell about to start, and for a finished angle's colour jobs in one step."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from . import pacing
from .config import get_settings
from .repository import get_repository


def _pacing() -> pacing.Pacing:
    settings = get_settings()
    return pacing.Pacing(settings.replicate_creates_per_minute, settings.replicate_create_burst)


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_for_slot(slot_ms: int | None, color_index: int | None,
                  angle_output: Mapping[str, Any] | None) -> pacing.Wait | None:
    """Sleeps until the cell's create slot when it is close; a Wait for the workflow when it is
    not; None at once when pacing is off. The slot: one taken before the workflow waited, else
    the one its angle reserved for it (a colour job), else a new one."""
    pace = _pacing()
    if not pace.enabled:
        return None
    if slot_ms is None and color_index is not None:
        reserved = pacing.ColorPace.from_output((angle_output or {}).get("colorPace"))
        slot_ms = reserved.slot_ms(color_index) if reserved else None
    if slot_ms is None:
        slot_ms = get_repository().reserve_create_slots(1, pace.interval_ms, pace.burst_ms, now_ms())
    due = pacing.until_slot(slot_ms, now_ms())
    if isinstance(due, pacing.Wait):
        return due
    if due > 0:
        time.sleep(due)
    return None


def reserve_color_slots(color_count: int) -> pacing.ColorPace | None:
    """A finished angle's colour jobs take their create slots in one write (None: no pacing)."""
    pace = _pacing()
    if not pace.enabled or color_count <= 0:
        return None
    start = get_repository().reserve_create_slots(color_count, pace.interval_ms, pace.burst_ms, now_ms())
    return pacing.ColorPace(start, pace.interval_ms)


def hold_after_throttle(retry_after_seconds: float) -> None:
    """Back-pressure: when Replicate answers 429, the shared schedule gives no slot before its
    Retry-After, so the other cells wait with this one instead of meeting the same 429."""
    if _pacing().enabled:
        get_repository().hold_creates_until(now_ms() + int(retry_after_seconds * 1000))
