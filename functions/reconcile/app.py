"""Reconcile (every minute): cells whose prediction is in flight and quiet for a while.

Polls ``GET /v1/predictions/{id}``: a terminal prediction goes through the same path as the
webhook; a running one is touched so the next sweep waits again (the callback tasks have no
heartbeat to keep alive: a sweep bounded per run could not reach every live cell in time).
Bounded per run; one cell's error never stops the others. Sweeps never overlap: the function's
reserved concurrency is 1, and a sweep that fails lands on its on-failure queue.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from marketplace import cells, predictions
from marketplace.config import get_settings
from marketplace.domain import Cell
from marketplace.errors import ReplicateRateLimited
from marketplace.observability import lambda_entry, logger, metrics
from marketplace.repository import get_repository
from marketplace.statuses import RUNNING_PREDICTION, Outcome
from marketplace.webhook_delivery import WEBHOOK_BUDGET_SECONDS

SWEEP_THREADS = 8


def _reconcile(cell: Cell) -> Outcome:
    repo = get_repository()
    prediction_id = str(cell.predictionId)
    logger.thread_safe_clear_keys()
    logger.thread_safe_append_keys(batch_id=cell.batchId, prediction_id=prediction_id)
    prediction = predictions.get_prediction(prediction_id)
    outcome = cells.handle_prediction_update(prediction, cell)
    if prediction.get("status") in RUNNING_PREDICTION:
        repo.touch_pending(cell)
        return Outcome.STILL_RUNNING
    return outcome


def _safe(cell: Cell) -> str:
    try:
        return _reconcile(cell)
    except ReplicateRateLimited:
        # Polls share Replicate's 3,000-a-minute limit: this cell waits for the next sweep.
        logger.info("poll throttled by Replicate: next sweep", extra={"prediction_id": cell.predictionId})
        return "throttled"
    except Exception:
        logger.exception("reconciling a cell failed", extra={"prediction_id": cell.predictionId})
        return "error"


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    after, limit = settings.reconcile_after_seconds, settings.reconcile_max_cells
    before = (datetime.now(UTC) - timedelta(seconds=after)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    pending = [c for c in get_repository().list_pending_cells(updated_before=before, limit=limit) if c.predictionId]
    outcomes = _sweep(pending, context)
    summary: dict[str, int] = {}
    for outcome in outcomes:
        summary[outcome] = summary.get(outcome, 0) + 1
    metrics.add_metric(name="CellsReconciled", unit="Count", value=len(outcomes))
    logger.info("reconcile sweep done", extra={"checked": len(outcomes), "left": len(pending) - len(outcomes),
                                                "outcomes": summary})
    return {"checked": len(outcomes), "outcomes": summary}


def _sweep(pending: list[Cell], context: Any) -> list[str]:
    """Polls cells 8 at a time while a cell's worst case (a webhook's, see WEBHOOK_BUDGET_SECONDS)
    still fits the time left: the rest wait for the next sweep instead of the sweep timing out."""
    reserve_ms = (sum(WEBHOOK_BUDGET_SECONDS.values()) + 2) * 1000
    outcomes: list[str] = []
    with ThreadPoolExecutor(max_workers=SWEEP_THREADS) as pool:
        for start in range(0, len(pending), SWEEP_THREADS):
            if context.get_remaining_time_in_millis() < reserve_ms:
                break
            outcomes.extend(pool.map(_safe, pending[start : start + SWEEP_THREADS]))
    return outcomes
