"""Schedules fire at the template's rate, unless the caller chooses an interval."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from local_stack.model import ScheduleSpec
from local_stack.schedules import Scheduler, rate_seconds

pytestmark = pytest.mark.unit


def schedule(expression: str, name: str = "Every") -> ScheduleSpec:
    return ScheduleSpec(function="ReconcileFunction", event_name=name, expression=expression, input=None)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        (" rate( 10 Minutes ) ", 600),
        ("cron(0 12 * * ? *)", None),
        ("rate(0 minutes)", None),
        ("", None),
    ],
)
def test_rate_expressions_give_their_period(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds


def test_given_no_interval_then_each_schedule_runs_at_its_template_rate_and_cron_is_reported() -> None:
    lines: list[str] = []
    schedules = [schedule("rate(1 minute)"), schedule("cron(0 12 * * ? *)", "Noon")]
    scheduler = Scheduler(schedules, lambda *_: None, None, lines.append)
    assert scheduler.periods == {"ReconcileFunction.Every": 60.0}
    assert lines == ["schedule ReconcileFunction.Noon (cron(0 12 * * ? *)) is not fired locally: only rate(...) is"]


def test_given_an_interval_then_it_overrides_every_rate_and_zero_turns_schedules_off() -> None:
    assert Scheduler([schedule("rate(1 minute)")], lambda *_: None, 2.0).periods == {"ReconcileFunction.Every": 2.0}
    off = Scheduler([schedule("rate(1 minute)")], lambda *_: None, 0)
    assert off.periods == {}
    off.start()
    assert not off._thread.is_alive()


def test_given_a_short_interval_then_the_function_gets_scheduled_events() -> None:
    fired = threading.Event()
    events: list[Any] = []

    def invoke(function: str, event: Any) -> None:
        events.append((function, event))
        fired.set()

    scheduler = Scheduler([schedule("rate(1 minute)")], invoke, 0.05)
    scheduler.start()
    try:
        assert fired.wait(5)
    finally:
        scheduler.stop()
    function, event = events[0]
    assert function == "ReconcileFunction" and event["detail-type"] == "Scheduled Event"
