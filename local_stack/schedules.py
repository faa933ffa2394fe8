"""The template's `Schedule` events, fired locally at their own `rate(...)` (or every
`interval_s` seconds when the caller overrides it: tests and chaos runs reconcile faster)."""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .events import build_scheduled_event
from .model import ScheduleSpec

_RATE = re.compile(r"^\s*rate\(\s*(\d+)\s+(minutes?|hours?|days?)\s*\)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float | None:
    """The period of an EventBridge `rate(N unit)` expression in seconds; None for anything else
    (`cron(...)`, which is not emulated). AWS requires the singular unit for 1 and the plural
    otherwise; both are accepted here."""
    match = _RATE.match(expression)
    if match is None:
        return None
    value, unit = int(match.group(1)), match.group(2).lower().rstrip("s")
    return float(value * _UNIT_SECONDS[unit]) if value > 0 else None


class Scheduler:
    """Fires each schedule every `interval_s` if given (0 = never), else at its template rate.
    A run still going when its next tick comes is not started twice (the tick is skipped)."""

    def __init__(
        self,
        schedules: list[ScheduleSpec],
        invoke: Callable[[str, Any], Any],
        interval_s: float | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.schedules = schedules
        self.invoke = invoke
        self.interval_s = interval_s
        self.log = log
        self._stop = threading.Event()
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="local-schedules", daemon=True)
        self.fired = 0
        self.periods: dict[str, float] = {}
        for schedule in schedules:
            period = interval_s if interval_s is not None else rate_seconds(schedule.expression)
            if period is None:
                if log is not None:
                    log(f"schedule {_key(schedule)} ({schedule.expression}) is not fired locally: only rate(...) is")
            elif period > 0:
                self.periods[_key(schedule)] = period

    def start(self) -> None:
        if self.periods:
            self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        started = time.monotonic()
        due = {key: started + period for key, period in self.periods.items()}
        by_key = {_key(schedule): schedule for schedule in self.schedules}
        while not self._stop.wait(max(0.0, min(due.values()) - time.monotonic())):
            now = time.monotonic()
            for key, when in list(due.items()):
                if when <= now:
                    self._fire(by_key[key])
                    due[key] = when + self.periods[key] * max(1, int((now - when) // self.periods[key]) + 1)

    def _fire(self, schedule: ScheduleSpec) -> None:
        key = _key(schedule)
        with self._lock:
            if key in self._running:  # the previous run is still going: skip this tick
                return
            self._running.add(key)
        event = json.loads(schedule.input) if schedule.input else build_scheduled_event(key)
        threading.Thread(target=self._run, args=(key, schedule.function, event), daemon=True, name=key).start()

    def _run(self, key: str, function: str, event: Any) -> None:
        started = time.perf_counter()
        try:
            self.invoke(function, event)
            self.fired += 1
        except Exception:
            if self.log is not None:
                self.log(f"schedule {key} failed after {(time.perf_counter() - started) * 1000:.0f}ms:")
            traceback.print_exc()
        finally:
            with self._lock:
                self._running.discard(key)


def _key(schedule: ScheduleSpec) -> str:
    return f"{schedule.function}.{schedule.event_name}"
