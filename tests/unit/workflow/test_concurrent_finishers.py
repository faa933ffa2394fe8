"""Two finishers of one prediction at the same time (the chaos run found this): the webhook and
the reconciler's poll both learn that the prediction succeeded; one completes the cell and, while
it is still telling the workflow (SendTaskSuccess in flight), the other arrives."""

from __future__ import annotations

from typing import Any

import pytest
from workflow_testkit import World, data_uri, deliver, make_batch, png_bytes, start, succeeded

pytestmark = pytest.mark.unit


def test_given_a_cell_being_completed_when_a_second_finisher_arrives_mid_resume_then_one_terminal_push_only(
    world: World,
) -> None:
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    update = succeeded("p-1", data_uri(png_bytes(320, 240)))
    outcomes: list[str] = []
    calls: list[str] = []
    real_success = world.sfn.send_task_success

    def success_while_the_poll_arrives(taskToken: str, output: str) -> dict[str, Any]:
        calls.append(taskToken)
        if len(calls) == 1:  # the first finisher is between its cell write and the workflow call
            outcomes.append(deliver(world.repo, update, recorded))
        return real_success(taskToken, output)

    world.sfn.send_task_success = success_while_the_poll_arrives  # type: ignore[method-assign]

    first = deliver(world.repo, update, recorded)

    completed_pushes = [u for u in world.job_updates() if u["status"] == "completed"]
    assert first == "completed" and outcomes
    assert len(world.assets()) == 1 and world.batch("b-1")["completedJobs"] == 1
    assert len(completed_pushes) == 1, f"second finisher: {outcomes}; {len(completed_pushes)} completed pushes"
