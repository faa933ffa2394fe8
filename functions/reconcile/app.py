"""Reconcile (every minute): cells whose prediction is in flight and quiet for a while.

Polls ``GET /v1/predictions/{id}``: a terminal prediction goes through the same path as the
webhook; a running one is touched so the next sweep waits again (the callback tasks have no
heartbeat to keep alive: a sweep bounded per run could not reach every live cell in time).
Bounded per run; one cell's error never stops the others.

Poll mode (``REPLICATE_COMPLETION=poll``: predictions carry no webhook, nothing public can
receive one) looks at every pending cell, whatever its age, through Replicate's prediction list
(``polling.sweep_list``: a few requests for hundreds of cells); the ones that ended are settled
as above, the ones the list did not show are polled alone once quiet. The local stack runs this
sweep every half second in laptop mode (``local_stack/poller.py``). Sweeps never overlap: the function's
reserved concurrency is 1, and a sweep that fails lands on its on-failure queue.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from marketplace import cells, polling, predictions
from marketplace.config import get_settings
from marketplace.domain import Cell
from marketplace.errors import ReplicateRateLimited, ReplicateUnavailable
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
    now = datetime.now(UTC)
    before = _iso(now - timedelta(seconds=after))
    if settings.replicate_completion == "poll":
        pending = _poll_mode_pending(_iso(now + timedelta(seconds=1)), before, limit)
    else:
        pending = [c for c in get_repository().list_pending_cells(updated_before=before, limit=limit) if c.predictionId]
    outcomes = _sweep(pending, context)
    summary: dict[str, int] = {}
    for outcome in outcomes:
        summary[outcome] = summary.get(outcome, 0) + 1
    metrics.add_metric(name="CellsReconciled", unit="Count", value=len(outcomes))
    logger.info("reconcile sweep done", extra={"checked": len(outcomes), "left": len(pending) - len(outcomes),
                                                "outcomes": summary})
    return {"checked": len(outcomes), "outcomes": summary}


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _poll_mode_pending(now: str, quiet_before: str, limit: int) -> list[Cell]:
    """Every pending cell the list shows ended, plus those it did not show that are quiet."""
    pending = [c for c in get_repository().list_pending_cells(updated_before=now, limit=limit) if c.predictionId]
    if not pending:
        return []
    try:
        seen = polling.sweep_list(pending)
    except (ReplicateRateLimited, ReplicateUnavailable) as error:
        logger.warning("prediction list not read: next sweep", extra={"reason": str(error)})
        return []
    quiet = [c for c in seen.unseen if (c.updatedAt or "") < quiet_before]
    return seen.ended + quiet


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
