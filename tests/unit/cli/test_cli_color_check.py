"""The CLI's watch says each colour cell's check as it lands ("paint ok ΔE 0.7", "paint OFF ...")."""

from __future__ import annotations

import pytest
from cli_testkit import result

from marketplace_cli.watch import WatchState, landed_text

pytestmark = pytest.mark.unit

OK_CHECK = {"target": "#c00000", "measured": "#c1100c", "deltaE": 0.7, "verdict": "ok"}
OFF_CHECK = {"target": "#c00000", "measured": "#9d572a", "deltaE": 26.4, "verdict": "off"}


def landed_line(check: dict | None) -> str:
    state = WatchState("b")
    message = {"type": "marketplaceJobUpdated",
               "data": {"batchId": "b", "result": {**result("front_0", "red", "completed"), "colorCheck": check}}}
    [landed] = state.apply_message(message)
    return landed_text(landed)


@pytest.mark.parametrize(
    ("check", "words"),
    [(OK_CHECK, "paint ok ΔE 0.7"), (OFF_CHECK, "paint OFF ΔE 26.4 (asked #c00000, got #9d572a)"),
     ({"target": None, "measured": None, "deltaE": None, "verdict": "unknown"}, "paint unchecked")],
)
def test_given_a_colour_cell_landing_with_its_check_when_watched_then_its_line_says_the_verdict(check: dict, words: str):
    assert landed_line(check).endswith(words)


def test_given_a_cell_landing_without_a_check_when_watched_then_its_line_says_nothing_of_paint():
    assert "paint" not in landed_line(None)
