"""Chaos at CI size (6 angles x 8 colours = 54 cells) or full size with CHAOS_FULL=1
(25 x 39 = 1,000 cells): Replicate failures, duplicate and dropped webhooks, 429s on create (the
fault, and Replicate's limit at full size) and slow downloads, all at once. One run per module; each invariant is its own test,
checked from the outside (moto, the stand-in, the WebSocket). benchmarks/chaos_run.py prints the
same run's figures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.chaos import ChaosResult, run_chaos

pytestmark = pytest.mark.chaos
ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("CHAOS_FULL") == "1"
ANGLES, COLORS = (25, 39) if FULL else (6, 8)
FAULT_KINDS = ("fail", "duplicate", "drop", "ratelimit", "slow")


@pytest.fixture(scope="module")
def chaos() -> ChaosResult:
    result = run_chaos(ANGLES, COLORS, timeout=1500 if FULL else 240)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / f"chaos-{result.cells}-cells.json").write_text(json.dumps(result.as_dict(), indent=2, default=str))
    print("\n" + "\n".join(result.lines()))
    return result


def holds(result: ChaosResult, name: str) -> None:
    check = next(c for c in result.checks if c.name == name)
    assert check.ok, f"{check.name}: {check.detail}\n" + "\n".join(result.lines()) + f"\nstack log: {result.stack_log}"


pytest_timeout = pytest.mark.timeout(1800 if FULL else 300)


@pytest_timeout
def test_given_every_fault_kind_when_the_batch_ran_then_each_kind_actually_took_effect(chaos: ChaosResult):
    assert chaos.cells == ANGLES * (1 + COLORS)
    missing = [kind for kind in FAULT_KINDS if chaos.injected.get(kind, 0) == 0]
    assert not missing, f"no {missing} fault took effect: the run proves nothing about them\n" + "\n".join(chaos.lines())


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_nothing_was_lost(chaos: ChaosResult):
    assert chaos.lost == [], "\n".join(chaos.lines())


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_every_cell_row_is_terminal(chaos: ChaosResult):
    holds(chaos, "every cell row terminal in DynamoDB")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_each_cell_was_pushed_terminal_exactly_once(chaos: ChaosResult):
    # This run found a double push (a second finisher re-announcing a cell the first was still
    # resuming): tests/unit/workflow/test_concurrent_finishers.py pins the fix.
    holds(chaos, "every cell terminal exactly once on the WebSocket")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_snapshot_dynamodb_and_websocket_agree(chaos: ChaosResult):
    holds(chaos, "snapshot, DynamoDB and WebSocket agree on every cell")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_the_completion_was_announced_exactly_once(chaos: ChaosResult):
    holds(chaos, "marketplaceBatchCompleted exactly once")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_the_batch_row_counts_equal_the_cells(chaos: ChaosResult):
    holds(chaos, "batch row counts equal the cells and its status tells the truth")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_each_completed_cell_has_one_gallery_asset(chaos: ChaosResult):
    holds(chaos, "exactly one gallery asset per completed cell, none for failed")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_each_completed_cell_has_its_png_and_thumbnail(chaos: ChaosResult):
    holds(chaos, "every completed cell has its PNG and thumbnail in S3")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_no_execution_is_left_running(chaos: ChaosResult):
    holds(chaos, "no execution left RUNNING")


@pytest_timeout
def test_given_faults_when_the_batch_ran_then_no_cell_got_a_second_prediction_unless_the_first_failed(chaos: ChaosResult):
    holds(chaos, "no prediction created twice for a cell unless the first failed")
