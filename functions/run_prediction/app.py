"""RunPrediction: the workflow's callback task. Starts one cell's Replicate prediction.

Event ``{batchId, runId, owner, angleKey, colorKey|null, taskToken}`` plus the cell's place in the create
schedule: ``slotMs`` (a slot taken before the workflow waited), an angle's ``colorCount`` and
``runColors``, a colour's ``angle`` (its angle task's output) and ``colorIndex``. The workflow
resumes when the webhook (or the reconciler) reports, or at once with ``{waitSeconds, slotMs}``
when the slot is further ahead or Replicate said 429 (the state machine waits and calls again).
``ReplicateUnavailable`` propagates so the state machine retries it by name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marketplace import workflow_tasks
from marketplace.config import get_settings
from marketplace.observability import bind, lambda_entry


class RunPredictionEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batchId: str = Field(min_length=1)
    runId: str | None = None
    angleKey: str = Field(min_length=1)
    colorKey: str | None = None
    taskToken: str = Field(min_length=1)
    owner: str | None = None
    slotMs: int | None = Field(default=None, ge=0)
    colorCount: int = Field(default=0, ge=0)
    runColors: bool = False
    angle: dict[str, Any] | None = None
    colorIndex: int | None = Field(default=None, ge=0)


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = RunPredictionEvent.model_validate(event)
    bind(batch_id=request.batchId, angle_key=request.angleKey, color_key=request.colorKey)
    task = workflow_tasks.PredictionTask(
        batch_id=request.batchId,
        run_id=request.runId,
        angle_key=request.angleKey,
        color_key=request.colorKey or None,
        task_token=request.taskToken,
        owner=request.owner or None,
        slot_ms=request.slotMs,
        color_count=request.colorCount if request.runColors else 0,
        angle_output=request.angle,
        color_index=request.colorIndex,
    )
    return workflow_tasks.start_cell_prediction(task, get_settings().webhook_url)
