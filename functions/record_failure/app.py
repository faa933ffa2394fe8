"""RecordFailure: the workflow caught a cell's failure (Catch States.ALL).

Event ``{batchId, angleKey, colorKey|null, error: {Error, Cause}}``: fails the cell if still
open and, for an angle, every colour cell of that angle still open, with the reason.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marketplace import workflow_tasks
from marketplace.observability import bind, lambda_entry, logger


class RecordFailureEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batchId: str = Field(min_length=1)
    angleKey: str = Field(min_length=1)
    colorKey: str | None = None
    error: dict[str, Any] | None = None


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = RecordFailureEvent.model_validate(event)
    bind(batch_id=request.batchId, angle_key=request.angleKey, color_key=request.colorKey)
    logger.info("recording a failure caught by the workflow", extra={"error_name": (request.error or {}).get("Error")})
    failed = workflow_tasks.record_failure(request.batchId, request.angleKey, request.colorKey or None, request.error)
    return {"batchId": request.batchId, "failedCells": failed}
