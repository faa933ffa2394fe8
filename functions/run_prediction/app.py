"""RunPrediction: the workflow's callback task. Starts one cell's Replicate prediction.

Event ``{batchId, runId, angleKey, colorKey|null, taskToken}``. Returns
``{predictionId}``; ``ReplicateRateLimited``/``ReplicateUnavailable`` propagate so the state
machine retries them by name. The workflow resumes when the webhook (or the reconciler) reports.
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


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = RunPredictionEvent.model_validate(event)
    bind(batch_id=request.batchId, angle_key=request.angleKey, color_key=request.colorKey)
    return workflow_tasks.start_cell_prediction(
        batch_id=request.batchId,
        run_id=request.runId,
        angle_key=request.angleKey,
        color_key=request.colorKey or None,
        task_token=request.taskToken,
        webhook_base_url=get_settings().webhook_url,
    )
