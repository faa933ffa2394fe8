"""The cell state machine: the one path every outcome goes through (webhook or poll).

``queued → processing`` (the prediction exists) ``→ completed | failed`` (``domain.CellStatus``),
forward only (conditional writes in the data layer). Whoever makes a transition announces it (one
push) and resumes the workflow (one SendTaskSuccess/Failure); a duplicate, late or out-of-order
delivery finds the cell further on and changes nothing but resuming the workflow again with the
cell's task token: a delivery retried after a crash between the cell write and the Step Functions
call still resumes the workflow, and when the workflow already has the outcome Step Functions
refuses the token, which is harmless (one call, no write to remember it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import workflow
from .create_slots import reserve_color_slots
from .domain import Cell
from .notifier import get_notifier
from .observability import logger, metrics
from .pacing import ColorPace
from .repository import get_repository
from .statuses import FAILED_PREDICTION, RUNNING_PREDICTION, CellStatus, Outcome, PredictionStatus
from .views import JOB_UPDATED, job_updated

PREDICTION_FAILED = "PredictionFailed"


def push(owner: str | None, message_type: str, data: dict[str, Any], connections: list[str] | None = None) -> None:
    """Best effort: a browser that misses a message re-reads the batch. ``connections``: the
    owner's, when the caller read them with the cell."""
    if not owner:
        return
    try:
        get_notifier().push_to_owner(owner, message_type, data, connections)
    except Exception:
        logger.exception("push failed", extra={"message_type": message_type})


def push_cell(owner: str | None, cell: Cell, connections: list[str] | None = None) -> None:
    push(owner, JOB_UPDATED, job_updated(cell.batchId, cell), connections)


# Sized for the local stack, where every invocation shares the process (on Lambda one push at a
# time uses one worker); threads start only when needed.
_push_pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="push")


def _announce_and_resume(owner: str | None, cell: Cell, connections: list[str] | None = None) -> None:
    """The push and the workflow resume run side by side; both finish before we return (a
    Lambda is frozen once it answers). A finished angle reserves its colour jobs' create slots
    here, once (a repeated resume lets each colour job take its own)."""
    pushed = _push_pool.submit(push_cell, owner, cell, connections)
    try:
        colors = reserve_color_slots(cell.colorCount or 0) if cell.is_angle and cell.status == CellStatus.COMPLETED else None
        resume(cell, color_pace=colors)
    finally:
        pushed.result()


def resume(cell: Cell, task_token: str | None = None, color_pace: ColorPace | None = None) -> bool:
    """Hands a terminal cell's outcome to its waiting task (the cell's, or task_token). True when
    the workflow took it; False when it already had it (Step Functions refused the token)."""
    token = task_token or cell.taskToken
    if not token:
        return False
    if cell.status == CellStatus.COMPLETED:
        # Keys, never URLs: the next step signs what it hands over when it hands it over.
        output: dict[str, Any] = {"imageKey": cell.imageKey}
        if color_pace is not None:
            output["colorPace"] = color_pace.as_output()
        return workflow.send_task_success(token, output)
    return workflow.send_task_failure(token, PREDICTION_FAILED, cell.error or CellStatus.FAILED)


def _failure_reason(prediction: Mapping[str, Any]) -> str:
    status = str(prediction.get("status"))
    error = prediction.get("error")
    if isinstance(error, dict):
        error = error.get("detail") or error.get("message") or json.dumps(error)[:500]
    if error:
        return f"{status}: {error}" if status != PredictionStatus.FAILED else str(error)
    return f"prediction {status}"


def handle_prediction_update(prediction: Mapping[str, Any], cell: Cell, connections: list[str] | None = None) -> Outcome:
    """Applies one prediction state to its cell (read by the caller: the webhook names it, the
    reconciler found it); ``connections``: the cell owner's, when the caller read them with the
    cell. Returns what happened (for logs and tests): ``completed``, ``failed``, ``unchanged``,
    ``resumed``, ``ignored``."""
    status = str(prediction.get("status") or "")
    if status in RUNNING_PREDICTION:
        return Outcome.UNCHANGED  # the cell is processing from the moment its prediction exists
    if status != PredictionStatus.SUCCEEDED and status not in FAILED_PREDICTION:
        logger.info("prediction status ignored", extra={"status": status})
        return Outcome.IGNORED
    if cell.predictionId != prediction.get("id"):
        # A superseded prediction (the cell was re-run) or another cell's: only the current one decides.
        logger.info("update of a prediction that is not the cell's ignored", extra={"current": cell.predictionId})
        return Outcome.IGNORED
    if cell.status.terminal:
        return _already_terminal(cell)
    owner = cell.owner
    if not owner:  # a cell from before cells carried their owner: the batch knows
        batch = get_repository().get_batch(cell.batchId)
        owner = batch.owner if batch else None

    if status == PredictionStatus.SUCCEEDED:
        # Pillow and requests only where an output is stored (not in RunPrediction's cold start).
        from .outputs import OutputRejected, persist_output

        fed = None
        if not cell.is_angle:  # a colour variant: the image it was fed, read while the output is stored
            from .color_check import service as color_check

            fed = color_check.read_fed_image(cell)
        try:
            stored = persist_output(cell.batchId, cell.angleKey, cell.colorKey, prediction.get("output"), cell.attempt)
        except OutputRejected as error:
            logger.warning("output rejected", extra={"reason": error.message})
            return _fail(cell, owner, f"output rejected: {error.message}", connections)
        logger.info("output persisted", extra={"timings_ms": stored.timings, "bytes": stored.size_bytes})
        # A colour variant: its paint against the colour it asked for.
        check = None if fed is None else color_check.check_cell(cell, stored.thumbnail, fed)
        completed = get_repository().complete_cell(cell, str(owner), stored.image_key, stored.thumb_key, check)
        if completed is None:
            return Outcome.UNCHANGED
        metrics.add_metric(name="CellsCompleted", unit="Count", value=1)
        _announce_and_resume(owner, completed, connections)
        return Outcome.COMPLETED

    return _fail(cell, owner, _failure_reason(prediction), connections)


def _fail(cell: Cell, owner: str | None, reason: str, connections: list[str] | None = None) -> Outcome:
    failed = get_repository().fail_cell(cell.batchId, cell.angleKey, cell.colorKey, reason)
    if failed is None:
        return Outcome.UNCHANGED
    metrics.add_metric(name="CellsFailed", unit="Count", value=1)
    _announce_and_resume(owner, failed, connections)
    return Outcome.FAILED


def _already_terminal(cell: Cell) -> Outcome:
    """The earlier delivery wrote the cell but may not have resumed the workflow (it may have
    died in between). Only the workflow is resumed here: the delivery that completed the cell
    owns its push (a second push would announce the cell twice while that delivery is still
    running); a client that missed it reads the cell from the snapshot on subscribe or reload."""
    if cell.taskToken and resume(cell):
        logger.info("resumed the workflow for an already terminal cell")
        return Outcome.RESUMED
    return Outcome.UNCHANGED
