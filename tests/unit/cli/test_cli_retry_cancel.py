"""The CLI's side of the dealer's control: a retried cell runs again in the watch (a new attempt
may leave its terminal status, an old attempt's report never counts), canceled cells are not a
success, and the retry / cancel commands."""

from __future__ import annotations

import argparse

import pytest
from cli_testkit import job_updated

from marketplace_cli.__main__ import cell_ref, parse_args
from marketplace_cli.watch import WatchState, exit_code, progress_text

pytestmark = pytest.mark.unit

B = "batch-1"


def test_given_a_failed_cell_when_its_second_attempt_is_reported_then_it_runs_again_and_lands_once_more() -> None:
    state = WatchState(B)
    state.apply_message(job_updated(B, "front_0", None, "failed", error="boom"))

    queued = state.apply_message(job_updated(B, "front_0", None, "queued", attempt=2))
    landed = state.apply_message(job_updated(B, "front_0", None, "completed", attempt=2))

    assert queued == [] and [e.cell.status for e in landed] == ["completed"]
    cell = state.cells[("front_0", None)]
    assert (cell.status, cell.attempt) == ("completed", 2)


def test_given_a_second_attempt_when_a_late_report_of_the_first_arrives_then_it_changes_nothing() -> None:
    state = WatchState(B)
    state.apply_message(job_updated(B, "front_0", None, "queued", attempt=2))

    late = state.apply_message(job_updated(B, "front_0", None, "failed", attempt=1, error="old"))

    assert late == [] and state.cells[("front_0", None)].status == "queued"


def test_given_canceled_cells_when_the_watch_ends_then_it_is_not_a_success_and_says_so() -> None:
    state = WatchState(B)
    state.apply_message(job_updated(B, "front_0", None, "completed"))
    state.apply_message(job_updated(B, "side_90", None, "canceled", error="canceled by the dealer"))

    assert exit_code(state) == 2
    assert "1 canceled" in progress_text(state)


def test_given_retry_and_cancel_arguments_when_parsed_then_cells_are_angle_or_angle_colour() -> None:
    retry = parse_args(["batch", "retry", "B", "--cell", "front_0", "--cell", "side_90:red_metallic", "--watch"])
    assert (retry.batch_id, retry.cells, retry.watch) == ("B", [("front_0", None), ("side_90", "red_metallic")], True)
    assert parse_args(["batch", "retry", "B"]).cells is None  # every failed or canceled cell
    assert parse_args(["batch", "cancel", "B"]).batch_id == "B"
    with pytest.raises(argparse.ArgumentTypeError):
        cell_ref("front_0:")
