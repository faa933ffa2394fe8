"""The template's `Schedule` events, fired locally every few seconds instead of at their rate."""

from __future__ import annotations

import json
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from .events import build_scheduled_event
from .model import ScheduleSpec


class Scheduler:
    def __init__(
        self,
        schedules: list[ScheduleSpec],
        invoke: Callable[[str, Any], Any],
        interval_s: float,
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

    def start(self) -> None:
        if self.schedules and self.interval_s > 0:
            self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            for schedule in self.schedules:
                self._fire(schedule)

    def _fire(self, schedule: ScheduleSpec) -> None:
        key = f"{schedule.function}.{schedule.event_name}"
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
