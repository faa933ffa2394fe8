"""The watch state machine: each cell counted once, never backwards, other batches ignored."""

from __future__ import annotations

import io

import pytest
from cli_testkit import job_updated, result, snapshot

from marketplace_cli.watch import (
    TextReporter,
    WatchState,
    cell_name,
    exit_code,
    landed_text,
    progress_bar,
    progress_text,
    summary,
)

pytestmark = pytest.mark.unit

B = "batch-1"
CELLS = [
    ("front_0", None),
    ("side_90", None),
    ("front_0", "red_metallic"),
    ("front_0", "blue_metallic"),
    ("side_90", "red_metallic"),
    ("side_90", "blue_metallic"),
]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def new_state(**kwargs) -> tuple[WatchState, Clock]:
    clock = Clock()
    return WatchState(B, clock=clock, **kwargs), clock


def created(total: int = 6, batch_id: str = B) -> dict:
    return {
        "type": "marketplaceBatchCreated",
        "data": {
            "batchId": batch_id,
            "totalJobs": total,
            "angles": ["front_0", "side_90"],
            "colors": ["red_metallic", "blue_metallic"],
        },
    }


def completed_message(batch_id: str = B) -> dict:
    return {"type": "marketplaceBatchCompleted", "data": {"batchId": batch_id}}


def test_scripted_sequence_counts_each_cell_once_and_never_goes_backwards() -> None:
    state, clock = new_state(created_here=True)
    script = [
        created(),
        job_updated("other", "front_0", None, "completed"),  # another batch of the same user
        created(total=99, batch_id="other"),
        job_updated(B, "front_0", None, "queued"),
        job_updated(B, "side_90", None, "queued"),
        job_updated(B, "front_0", None, "processing"),
        job_updated(B, "front_0", None, "completed", imageUrl="u/front"),
        job_updated(B, "front_0", None, "completed", imageUrl="u/front"),  # duplicate
        job_updated(B, "front_0", None, "processing"),  # late, out of order
        job_updated(B, "front_0", None, "failed", error="late failure"),  # terminal never changes
        job_updated(B, "front_0", "red_metallic", "completed", imageUrl="u/red"),  # processing never seen
        job_updated(B, "front_0", "red_metallic", "queued"),
        job_updated(B, "side_90", None, "failed", error="model error"),
        job_updated(B, "side_90", "red_metallic", "failed", error="angle failed"),
        job_updated(B, "side_90", "blue_metallic", "failed", error="angle failed"),
        {"type": "somethingNew", "data": {"batchId": B}},
        {"not": "a message"},
        "garbage",
        job_updated(B, "front_0", "blue_metallic", "processing"),
    ]
    landed = []
    for message in script:
        clock.now += 1
        landed += state.apply_message(message)

    names = [(e.cell.angle_key, e.cell.color_key, e.cell.status) for e in landed]
    assert names == [
        ("front_0", None, "completed"),
        ("front_0", "red_metallic", "completed"),
        ("side_90", None, "failed"),
        ("side_90", "red_metallic", "failed"),
        ("side_90", "blue_metallic", "failed"),
    ]
    assert state.total_jobs == 6
    assert (state.terminal_count, state.completed_count, state.failed_count, state.processing_count) == (5, 2, 3, 1)
    assert state.cells[("front_0", None)].status == "completed"
    assert state.cells[("front_0", None)].error is None
    assert state.cells[("front_0", None)].image_url == "u/front"
    assert state.cells[("front_0", "red_metallic")].status == "completed"
    assert not state.done
    assert state.ignored == 5  # two of another batch, an unknown type, two malformed

    clock.now += 1
    last = state.apply_message(job_updated(B, "front_0", "blue_metallic", "completed"))
    assert len(last) == 1 and last[0].duration == pytest.approx(1.0)
    assert state.done and state.all_terminal
    assert [c.name for c in state.failed_cells] == [
        "side_90",
        cell_name("side_90", "red_metallic"),
        cell_name("side_90", "blue_metallic"),
    ]
    assert exit_code(state) == 2


def test_durations_and_already_done() -> None:
    state, clock = new_state()  # watching an existing batch
    first = state.apply_snapshot(snapshot(B, [result("front_0", None, "completed"), result("side_90", None, "processing")]))
    assert [(e.cell.angle_key, e.already) for e in first] == [("front_0", True)]
    clock.now += 2.5
    later = state.apply_message(job_updated(B, "side_90", None, "completed"))
    assert later[0].already is False
    assert later[0].duration == pytest.approx(2.5)
    assert later[0].at == pytest.approx(2.5)


def test_cells_already_terminal_in_the_first_snapshot_are_live_when_the_batch_was_created_here() -> None:
    state, _ = new_state(created_here=True)
    landed = state.apply_snapshot(snapshot(B, [result("front_0", None, "completed")], total=6))
    assert landed[0].already is False


def test_snapshot_sets_the_total_and_merges_forward_only() -> None:
    state, _ = new_state()
    state.apply_message(job_updated(B, "front_0", None, "completed", imageUrl="fresh"))
    stale = snapshot(B, [result("front_0", None, "processing"), result("side_90", None, "queued")], total=6)
    assert state.apply_snapshot(stale) == []
    assert state.total_jobs == 6
    assert state.cells[("front_0", None)].status == "completed"  # the stale snapshot does not undo it
    assert state.cells[("side_90", None)].status == "queued"
    assert [c.name for c in state.pending_cells] == ["side_90"]


def test_the_total_never_shrinks() -> None:
    state, _ = new_state()
    state.apply_message(created(total=8))
    state.apply_snapshot(snapshot(B, [], total=6))
    assert state.total_jobs == 8


def test_terminal_cells_refresh_their_urls_but_not_their_status() -> None:
    state, _ = new_state()
    state.apply_message(job_updated(B, "front_0", None, "completed", imageUrl="old"))
    state.apply_snapshot(snapshot(B, [result("front_0", None, "completed", imageUrl="re-signed")]))
    assert state.cells[("front_0", None)].image_url == "re-signed"
    state.apply_message(job_updated(B, "front_0", None, "failed", imageUrl="x", error="no"))
    assert state.cells[("front_0", None)].image_url == "re-signed"
    assert state.cells[("front_0", None)].status == "completed"


def test_batch_completed_ends_the_watch_and_a_stale_one_is_cleared_by_the_snapshot() -> None:
    state, _ = new_state()
    state.apply_snapshot(snapshot(B, [result("front_0", None, "completed")], total=3))
    state.apply_message(completed_message("other"))
    assert not state.done
    state.apply_message(completed_message())
    assert state.done
    # A snapshot with open cells (a colourise started after that completion): keep watching.
    state.apply_snapshot(
        snapshot(B, [result("front_0", None, "completed"), result("front_0", "red_metallic", "queued")], total=3)
    )
    assert not state.done


def test_other_batch_snapshot_is_ignored() -> None:
    state, _ = new_state()
    assert state.apply_snapshot(snapshot("other", [result("front_0", None, "completed")])) == []
    assert state.cells == {} and state.total_jobs is None


def test_done_needs_a_known_total() -> None:
    state, _ = new_state()
    state.apply_message(job_updated(B, "front_0", None, "completed"))
    assert not state.done  # without the total, one finished cell says nothing
    state.apply_message(created(total=1))
    assert state.done and exit_code(state) == 0


def test_exit_code_when_unfinished() -> None:
    state, _ = new_state()
    state.apply_snapshot(snapshot(B, [result("front_0", None, "processing")]))
    assert exit_code(state) == 1


def test_ordered_cells_and_summary() -> None:
    state, _ = new_state()
    for angle, color in reversed(CELLS):
        state.apply_message(job_updated(B, angle, color, "queued"))
    state.apply_message(created())
    assert [c.name for c in state.ordered_cells()] == [
        "front_0",
        cell_name("front_0", "red_metallic"),
        cell_name("front_0", "blue_metallic"),
        "side_90",
        cell_name("side_90", "red_metallic"),
        cell_name("side_90", "blue_metallic"),
    ]
    data = summary(state)
    assert data["batchId"] == B and data["totalJobs"] == 6 and len(data["cells"]) == 6
    assert data["cells"][0] == {
        "type": "angle",
        "angleKey": "front_0",
        "colorKey": None,
        "status": "queued",
        "imageUrl": None,
        "error": None,
    }


def test_progress_bar_text() -> None:
    assert progress_bar(3, 6, width=10) == "[#####.....] 3/6"
    assert progress_bar(0, None, width=4) == "[....] 0/?"
    assert progress_bar(6, 6, width=10) == "[##########] 6/6"
    state, _ = new_state()
    state.apply_message(created(total=4))
    state.apply_message(job_updated(B, "front_0", None, "processing"))
    state.apply_message(job_updated(B, "side_90", None, "failed", error="boom"))
    assert progress_text(state, width=8) == "[##......] 1/4  (1 running, 1 failed)"


def test_landed_line() -> None:
    state, clock = new_state(created_here=True)
    state.apply_message(job_updated(B, "front_0", "red_metallic", "processing"))
    clock.now += 2.3
    event = state.apply_message(job_updated(B, "front_0", "red_metallic", "failed", error="NSFW filter"))[0]
    line = landed_text(event)
    assert cell_name("front_0", "red_metallic") in line and "failed" in line and "2.3s" in line and "NSFW filter" in line


def test_text_reporter_redraws_on_a_tty_and_prints_lines_otherwise() -> None:
    state, _ = new_state(created_here=True)
    state.apply_message(created(total=2))

    tty = io.StringIO()
    reporter = TextReporter(tty, tty=True, bar_width=4)
    reporter.progress(state)
    for event in state.apply_message(job_updated(B, "front_0", None, "completed")):
        reporter.landed(event, state)
    reporter.progress(state)
    reporter.finish(state)
    out = tty.getvalue()
    assert out.startswith("\r[....] 0/2")
    assert "\r[##..] 1/2" in out and out.endswith("\n")
    assert "\n" not in out.split("front_0")[0]  # the cell line replaced the bar in place

    plain = io.StringIO()
    reporter = TextReporter(plain, tty=False, bar_width=4)
    state2, _ = new_state(created_here=True)
    state2.apply_message(created(total=2))
    reporter.progress(state2)
    reporter.progress(state2)  # unchanged: not repeated
    for event in state2.apply_message(job_updated(B, "front_0", None, "completed")):
        reporter.landed(event, state2)
    reporter.progress(state2)
    reporter.finish(state2)
    lines = plain.getvalue().splitlines()
    assert "\r" not in plain.getvalue()
    assert lines[0] == "[....] 0/2"
    assert "front_0" in lines[1] and "completed" in lines[1]
    assert lines[2] == "[##..] 1/2"
    assert len(lines) == 3
