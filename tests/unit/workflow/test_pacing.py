"""Pacing of prediction creates against Replicate's limit: the pure decisions (marketplace.pacing)
and the shared schedule they take slots from (marketplace.store.pacer, against moto)."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from workflow_testkit import World

from local_stack.moto_fixes import serialized_moto_dynamodb
from marketplace import pacing
from marketplace.pacing import ColorPace, Pacing, Wait, after_throttle, until_slot

pytestmark = pytest.mark.unit

NOW = 1_800_000_000_000
INTERVAL, BURST_MS = 100, 4_900  # 600 a minute, 50 at once


# ----- the pure decisions ----------------------------------------------------------------------


def test_given_replicates_limit_when_paced_then_600_a_minute_is_a_slot_every_100_ms_and_0_is_off() -> None:
    assert (Pacing(600, 50).interval_ms, Pacing(600, 50).enabled) == (100, True)
    # A burst of 50 is 50 slots due at once: now and the 49 before it.
    assert (Pacing(600, 50).burst_ms, Pacing(600, 1).burst_ms, Pacing(600, 0).burst_ms) == (4_900, 0, 0)
    assert Pacing(7, 2).interval_ms == 8_572  # rounded up: never faster than the limit
    assert (Pacing(0, 50).enabled, Pacing(0, 50).interval_ms, Pacing(0, 50).burst_ms) == (False, 0, 0)


@pytest.mark.parametrize(
    ("ahead_ms", "expected"),
    [
        (-60_000, 0.0),  # long due
        (0, 0.0),  # due now
        (1, 0.001),
        (2_500, 2.5),  # close: slept inline
        (3_000, 3.0),
        (3_001, Wait(seconds=3, slot_ms=NOW + 3_001)),  # further: the workflow waits, up to a second early
        (3_999, Wait(seconds=3, slot_ms=NOW + 3_999)),
        (65_500, Wait(seconds=65, slot_ms=NOW + 65_500)),
    ],
)
def test_given_a_slot_when_its_distance_is_judged_then_due_inline_or_a_whole_second_wait_that_keeps_the_slot(
    ahead_ms: int, expected: float | Wait
) -> None:
    assert until_slot(NOW + ahead_ms, NOW) == expected


@settings(max_examples=300, deadline=None)
@given(ahead_ms=st.integers(min_value=-10**9, max_value=10**9))
def test_given_any_slot_when_judged_then_inline_sleeps_stay_short_and_waits_never_overshoot(ahead_ms: int) -> None:
    due = until_slot(NOW + ahead_ms, NOW)
    if isinstance(due, Wait):
        assert due.slot_ms == NOW + ahead_ms
        assert 1 <= due.seconds <= ahead_ms / 1000 < due.seconds + 1  # whole seconds, never past the slot
    else:
        assert 0 <= due <= pacing.INLINE_WAIT_SECONDS
        assert due == max(0, ahead_ms) / 1000


@settings(max_examples=300, deadline=None)
@given(retry_after=st.floats(min_value=0, max_value=600), jitter=st.floats(min_value=0, max_value=1, exclude_max=True))
def test_given_a_429_when_waited_out_then_at_least_the_retry_after_at_most_a_second_more_and_a_new_slot(
    retry_after: float, jitter: float
) -> None:
    wait = after_throttle(retry_after, jitter)
    assert wait.slot_ms is None
    assert wait.seconds >= max(1.0, retry_after)
    assert wait.seconds <= max(1, math.ceil(retry_after) + 1)  # jitter adds under a second
    assert isinstance(wait.seconds, int)


def test_given_the_same_retry_after_when_jitter_differs_then_the_cells_come_back_at_different_seconds() -> None:
    assert {after_throttle(7, j).seconds for j in (0.0, 0.5, 0.999)} == {7, 8}
    assert after_throttle(0, 0.0).seconds == 1  # a 429 always waits
    assert after_throttle(7, 0.2).as_output() == {"waitSeconds": 8, "slotMs": None}


@pytest.mark.parametrize(
    "data",
    [
        None,
        "odd",
        [1, 2],
        {},
        {"startMs": NOW},
        {"startMs": str(NOW), "intervalMs": 100},
        {"startMs": NOW, "intervalMs": 100.5},
        {"startMs": -1, "intervalMs": 100},
        {"startMs": NOW, "intervalMs": -100},
        {"startMs": True, "intervalMs": 100},
        {"startMs": NOW, "intervalMs": None},
    ],
)
def test_given_an_odd_shape_when_read_as_a_colour_pace_then_there_is_no_reservation(data: object) -> None:
    assert ColorPace.from_output(data) is None


def test_given_a_colour_pace_when_read_back_then_job_i_goes_at_start_plus_i_intervals() -> None:
    pace = ColorPace.from_output(ColorPace(NOW, INTERVAL).as_output())
    assert pace == ColorPace(NOW, INTERVAL)
    assert [pace.slot_ms(i) for i in (0, 1, 7)] == [NOW, NOW + 100, NOW + 700]
    assert pace.slot_ms(-3) == NOW  # never before the reservation


# ----- the shared schedule (one DynamoDB item) -------------------------------------------------


def test_given_a_quiet_schedule_when_slots_are_taken_one_by_one_then_they_are_an_interval_apart_from_the_burst(
    world: World,
) -> None:
    taken = [world.repo.reserve_create_slots(1, INTERVAL, BURST_MS, NOW) for _ in range(5)]

    assert taken == [NOW - BURST_MS + i * INTERVAL for i in range(5)]
    assert world.pacer()["nextMs"] == NOW - BURST_MS + 5 * INTERVAL


def test_given_a_reservation_of_n_when_the_next_slot_is_taken_then_it_comes_n_intervals_later(world: World) -> None:
    first = world.repo.reserve_create_slots(1, INTERVAL, BURST_MS, NOW)
    colours = world.repo.reserve_create_slots(12, INTERVAL, BURST_MS, NOW)
    after = world.repo.reserve_create_slots(1, INTERVAL, BURST_MS, NOW)

    assert colours == first + INTERVAL
    assert after == colours + 12 * INTERVAL


def test_given_a_long_queue_when_a_slot_is_taken_then_it_lies_ahead_and_is_not_pulled_back(world: World) -> None:
    world.repo.reserve_create_slots(1_000, INTERVAL, BURST_MS, NOW)
    assert world.repo.reserve_create_slots(1, INTERVAL, BURST_MS, NOW) == NOW - BURST_MS + 1_000 * INTERVAL


def test_given_a_quiet_spell_when_a_slot_is_taken_then_the_schedule_restarts_at_now_minus_the_burst(world: World) -> None:
    world.repo.reserve_create_slots(3, INTERVAL, BURST_MS, NOW)
    later = NOW + 10 * 60_000

    slot = world.repo.reserve_create_slots(1, INTERVAL, BURST_MS, later)
    following = world.repo.reserve_create_slots(2, INTERVAL, BURST_MS, later)

    assert slot == later - BURST_MS  # not the stale NOW - burst + 3 intervals
    assert following == slot + INTERVAL
    assert world.pacer()["nextMs"] == following + 2 * INTERVAL


def test_given_eight_threads_reserving_at_once_when_done_then_every_slot_is_distinct_and_none_is_lost(
    world: World,
) -> None:
    barrier = threading.Barrier(8)
    taken: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def reserve() -> None:
        try:
            barrier.wait(timeout=10)
            for _ in range(3):
                slot = world.repo.reserve_create_slots(1, INTERVAL, BURST_MS, NOW)
                with lock:
                    taken.append(slot)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    # DynamoDB applies each conditional write atomically; in-process moto does not across threads
    # unless its requests are serialized (the local stack does the same).
    with serialized_moto_dynamodb():
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert errors == []
    assert len(taken) == 24 and len(set(taken)) == 24
    assert min(taken) == NOW - BURST_MS
    assert all(slot >= NOW - BURST_MS and (slot - (NOW - BURST_MS)) % INTERVAL == 0 for slot in taken)
    assert world.pacer()["nextMs"] == max(taken) + INTERVAL
