"""The workflow's task bodies: RunPrediction (start a cell's prediction once), RecordFailure (a
failure the workflow caught) and FinalizeBatch (the end of a run). Outcomes of predictions go
through ``marketplace.cells``."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from . import create_slots, handover, pacing, predictions, workflow
from .cells import PREDICTION_FAILED, push, push_cell, resume
from .config import get_settings
from .domain import Cell
from .errors import ReplicateRateLimited, ReplicateRejected, ReplicateUnavailable, StateConflict, ValidationFailed
from .observability import logger, metrics
from .repository import get_repository
from .source_urls import own_upload_key
from .statuses import CellStatus
from .views import BATCH_COMPLETED, batch_completed

RUN_ENDED = "the workflow ended before this cell finished"


# ----- RunPrediction ----------------------------------------------------------------------


def webhook_url_for(base: str, batch_id: str, angle_key: str, color_key: str | None, attempt: int = 1,
                    owner: str | None = None) -> str:
    """The cell (and its attempt: a retried cell's earlier prediction is told apart) in the query,
    and its owner (an opaque id), so that the webhook reads the cell and the owner's connections
    in one request; the webhook trusts the owner only where the cell it read agrees."""
    query = {"batchId": batch_id, "angleKey": angle_key}
    if color_key:
        query["colorKey"] = color_key
    if attempt > 1:
        query["attempt"] = str(attempt)
    if owner:
        query["owner"] = owner
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(query)}"


@dataclass(frozen=True)
class PredictionTask:
    """One RunPrediction call: the cell, its task token, and its place in the create schedule."""

    batch_id: str
    run_id: str | None
    angle_key: str
    color_key: str | None
    task_token: str
    owner: str | None = None  # the run's owner: the cell and the owner's connections are read together
    slot_ms: int | None = None  # a slot taken earlier (the workflow waited for it)
    color_count: int = 0  # an angle: colour jobs that follow it in this run
    angle_output: Mapping[str, Any] | None = None  # a colour: its angle's task output
    color_index: int | None = None  # a colour: its index in the run's colours


def start_cell_prediction(task: PredictionTask, webhook_base_url: str) -> dict[str, Any]:
    """Starts the cell's prediction once, when its create slot is due; a re-invocation only hands
    over the new task token. A cell of another run (a colourise run crosses its angles and
    colours, and some pairs were made earlier) is let pass at once: its own run owns it."""
    repo = get_repository()
    connections: list[str] | None = None
    if task.owner:
        cell, connections = repo.get_cell_and_connections(task.batch_id, task.angle_key, task.color_key, task.owner)
    else:
        cell = repo.get_cell(task.batch_id, task.angle_key, task.color_key)
    if cell is None:
        # A run crosses its angles and colours; a pair that was never made is not part of it.
        logger.info("no such cell in the batch: passed")
        workflow.send_task_success(task.task_token, {"passed": True})
        return {"predictionId": None, "noCell": True}
    if task.run_id and not cell.owned_by_run(task.run_id):
        logger.info("cell belongs to another run: passed", extra={"owning_run": cell.runId or task.batch_id})
        workflow.send_task_success(task.task_token, {"passed": True})
        return {"predictionId": cell.predictionId, "otherRun": True}

    if cell.status.terminal:
        logger.info("cell already terminal: resuming the workflow at once", extra={"status": cell.status})
        resume(cell, task.task_token)
        return {"predictionId": cell.predictionId, "alreadyTerminal": True}

    if cell.predictionId:
        repo.update_task_token(cell, task.task_token)
        logger.info("prediction already started: task token updated", extra={"prediction_id": cell.predictionId})
        latest = repo.get_cell(task.batch_id, task.angle_key, task.color_key)
        if latest is not None and latest.status.terminal:
            # It finished while we swapped tokens: the finisher may have used the old token.
            resume(latest, task.task_token)
        return {"predictionId": cell.predictionId, "reused": True}

    if not cell.prompt:
        raise ValidationFailed(f"cell {cell.label} has no prompt", field="prompt")
    wait = create_slots.wait_for_slot(task.slot_ms, task.color_index, task.angle_output)
    if wait is not None:
        return _defer(task, wait, "create slot ahead")
    webhook = completion_webhook(webhook_base_url, task.batch_id, task.angle_key, task.color_key, cell.attempt,
                                 cell.owner or task.owner)
    try:
        # Inside: a hand-over through the Files API meets Replicate's limits like a create.
        image_input = _image_input(cell, task.angle_output)
        prediction_id = predictions.start_prediction(cell.prompt, image_input, webhook)
    except ReplicateRateLimited as throttled:
        metrics.add_metric(name="CreatesThrottled", unit="Count", value=1)
        create_slots.hold_after_throttle(throttled.retry_after_seconds)
        return _defer(task, pacing.after_throttle(throttled.retry_after_seconds, random.random()), "throttled")
    logger.debug(
        f"[MP] enqueue {cell.label}",
        extra={"angle_key": task.angle_key, "color_key": task.color_key, "prediction_id": prediction_id,
               "prompt_length": len(cell.prompt), "image_count": len(image_input)},
    )
    color_count = task.color_count if cell.is_angle else 0
    try:
        processing = repo.record_prediction(cell, prediction_id, task.task_token, image_input, color_count)
    except StateConflict:
        # The cell was closed meanwhile (its angle failed, or the dealer cancelled the batch): the
        # workflow already moved on, and the prediction is not wanted any more.
        logger.info("cell closed before its prediction was recorded", extra={"prediction_id": prediction_id})
        _cancel_quietly(prediction_id)
        resume(repo.get_cell(task.batch_id, task.angle_key, task.color_key) or cell, task.task_token)
        return {"predictionId": prediction_id, "closed": True}
    metrics.add_metric(name="PredictionsStarted", unit="Count", value=1)
    owner = processing.owner or task.owner or _owner(task.batch_id)
    push_cell(owner, processing, connections if owner == task.owner else None)
    return {"predictionId": prediction_id}


def completion_webhook(base: str, batch_id: str, angle_key: str, color_key: str | None, attempt: int,
                       owner: str | None = None) -> str | None:
    """The webhook Replicate calls when the prediction ends; None when completion is polled
    (``REPLICATE_COMPLETION=poll``: no public URL can receive it, the reconciler polls)."""
    if get_settings().replicate_completion == "poll" or not base:
        return None
    return webhook_url_for(base, batch_id, angle_key, color_key, attempt, owner)


def _cancel_quietly(prediction_id: str) -> None:
    try:
        predictions.cancel_prediction(prediction_id)
    except (ReplicateUnavailable, ReplicateRejected, ReplicateRateLimited):
        logger.warning("an unwanted prediction could not be cancelled", extra={"prediction_id": prediction_id})


def _defer(task: PredictionTask, wait: pacing.Wait, reason: str) -> dict[str, Any]:
    """The workflow waits and calls again (its Wait state costs nothing while it waits)."""
    logger.info("create deferred", extra={"reason": reason, "wait_seconds": wait.seconds})
    workflow.send_task_success(task.task_token, wait.as_output())
    return {"waitSeconds": wait.seconds}


def _image_input(cell: Cell, angle_output: Mapping[str, Any] | None) -> list[str]:
    """What Replicate fetches, signed now: a URL signed earlier (at upload, or when the angle was
    stored) dies with the Lambda role's session, which lasts hours; colourise-later runs days on.
    An angle's sources are on its cell; a colour's input is its angle's output, handed over by
    the workflow (read from the angle's cell when this run did not make the angle)."""
    if cell.is_angle:
        urls = cell.sourceImageUrls
        if urls is None:  # a cell from before cells carried their sources
            batch = get_repository().get_batch(cell.batchId)
            urls = batch.sourceImageUrls if batch else []
        sources = handover.each(handover_url, urls)
        if not sources:
            raise ValidationFailed("the batch has no source images", field="sourceImageUrls")
        return sources
    image_key = (angle_output or {}).get("imageKey")
    if not isinstance(image_key, str) or not image_key:
        angle = get_repository().get_cell(cell.batchId, cell.angleKey, None)
        image_key = angle.imageKey if angle else None
    if not image_key:
        raise ValidationFailed(f"angle {cell.angleKey} has no output to colour", field="imageKey")
    return [handover.object_input(image_key)]


def handover_url(url: str) -> str:
    """An own upload re-signed for Replicate (or handed over through its Files API, see
    ``handover``); any other (allow-listed https) URL as it is."""
    key = own_upload_key(url)
    return handover.object_input(key) if key else url


# ----- RecordFailure ----------------------------------------------------------------------


def failure_reason(error: Mapping[str, Any] | None) -> str:
    """A readable reason from the workflow's ``{Error, Cause}`` (a Lambda's Cause is JSON)."""
    error = error or {}
    name = str(error.get("Error") or "States.TaskFailed")
    cause = error.get("Cause")
    message = ""
    if isinstance(cause, str) and cause:
        try:
            parsed = json.loads(cause)
        except ValueError:
            parsed = None
        message = str(parsed.get("errorMessage") or parsed.get("Cause") or "") if isinstance(parsed, dict) else cause
    if name == PREDICTION_FAILED and message:
        return message
    if name in ("States.Timeout", "States.HeartbeatTimeout"):
        return "timed out waiting for the prediction"
    return f"{name}: {message}" if message else name


def _owner(batch_id: str) -> str | None:
    batch = get_repository().get_batch(batch_id)
    return batch.owner if batch else None


def record_failure(batch_id: str, angle_key: str, color_key: str | None, error: Mapping[str, Any] | None) -> int:
    """Fails the cell if still open and, for an angle, its open colour cells. Returns how many
    cells this call failed."""
    repo = get_repository()
    reason = failure_reason(error)
    owner = _owner(batch_id)
    count = 0
    failed = repo.fail_cell(batch_id, angle_key, color_key, reason)
    if failed is not None:
        count += 1
        push_cell(owner, failed)
    if color_key:
        return count
    cells = [c for c in repo.list_cells(batch_id) if c.angleKey == angle_key]
    angle = next((c for c in cells if c.is_angle), None)
    if angle and angle.status == CellStatus.FAILED and angle.error:
        reason = angle.error  # the cell's own reason beats the workflow's summary
    for cell in cells:
        if cell.is_angle or cell.status.terminal:
            continue
        closed = repo.fail_cell(batch_id, angle_key, cell.colorKey, f"angle {angle_key} failed: {reason}")
        if closed is not None:
            count += 1
            push_cell(owner, closed)
    if count:
        metrics.add_metric(name="CellsFailed", unit="Count", value=count)
    return count


# ----- FinalizeBatch ----------------------------------------------------------------------


def close_open_cells(batch_id: str, run_id: str, workflow_error: Mapping[str, Any] | None) -> int:
    """Every branch of the run has ended, so a cell of the run still open was left by a branch
    that ended abnormally (RecordFailure out of retries, a runtime error, a timeout): it fails
    with the reason, so the batch can complete. Returns how many cells this call failed."""
    repo = get_repository()
    reason = RUN_ENDED
    if workflow_error and workflow_error.get("Error"):
        reason = f"{RUN_ENDED} ({failure_reason(workflow_error)})"
    owner = _owner(batch_id)
    count = 0
    for cell in repo.list_cells(batch_id):
        if cell.status.terminal or not cell.owned_by_run(run_id):
            continue
        failed = repo.fail_cell(batch_id, cell.angleKey, cell.colorKey, reason)
        if failed is not None:
            count += 1
            push_cell(owner, failed)
    if count:
        logger.warning("cells left open by the run failed", extra={"cells": count, "reason": reason})
        metrics.add_metric(name="CellsFailed", unit="Count", value=count)
    return count


def finalize_batch(batch_id: str) -> bool:
    """Gives the batch its outcome when every cell is terminal; announces it once (per run of
    retries: a retried batch runs and announces again)."""
    batch = get_repository().complete_batch_if_done(batch_id)
    if batch is None:
        return False
    push(batch.owner, BATCH_COMPLETED, batch_completed(batch))
    metrics.add_metric(name="BatchesCompleted", unit="Count", value=1)
    return True
