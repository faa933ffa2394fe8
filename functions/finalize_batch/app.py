"""FinalizeBatch: after every angle's branch of a run ended (or the run's Map failed).

Fails the run's cells still open (a branch that ended abnormally left them), then completes the
batch once every cell is terminal (one push)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marketplace import workflow_tasks
from marketplace.observability import bind, lambda_entry, logger


class FinalizeBatchEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batchId: str = Field(min_length=1)
    runId: str | None = None
    executionName: str | None = None
    workflowError: dict[str, Any] | None = None


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = FinalizeBatchEvent.model_validate(event)
    bind(batch_id=request.batchId, execution_name=request.executionName)
    run_id = request.runId or request.executionName or request.batchId
    closed = workflow_tasks.close_open_cells(request.batchId, run_id, request.workflowError or None)
    completed = workflow_tasks.finalize_batch(request.batchId)
    logger.info("batch finalized" if completed else "batch not complete yet (or already announced)",
                extra={"cells_closed": closed})
    return {"batchId": request.batchId, "completed": completed, "cellsClosed": closed}
