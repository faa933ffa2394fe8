"""The cell state machine: the one path every outcome goes through (webhook or poll).

``queued → processing → completed | failed``, forward only (conditional writes in the
repository). Whoever makes a transition announces it (one push) and resumes the workflow (one
SendTaskSuccess/Failure); a duplicate, late or out-of-order delivery finds the cell further on
and changes nothing. A terminal cell keeps its task token until the workflow has taken the
outcome (``taskNotifiedAt``), so a delivery retried after a crash between the cell write and the
Step Functions call still resumes the workflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode

from . import predictions, workflow
from .errors import NotFound, StateConflict, ValidationFailed
from .notifier import get_notifier
from .observability import logger, metrics
from .outputs import OutputRejected, persist_output
from .repository import TERMINAL, get_repository
from .source_urls import own_upload_key
from .urls import HANDOVER_URL_SECONDS, object_url
from .views import BATCH_COMPLETED, JOB_UPDATED, job_updated

RUNNING = ("starting", "processing")
FAILED = ("failed", "canceled", "aborted")
PREDICTION_FAILED = "PredictionFailed"


# ----- helpers ----------------------------------------------------------------------------


def _push(owner: str | None, message_type: str, data: dict[str, Any]) -> None:
    """Best effort: a browser that misses a message re-reads the batch."""
    if not owner:
        return
    try:
        get_notifier().push_to_owner(owner, message_type, data)
    except Exception:
        logger.exception("push failed", extra={"message_type": message_type})


def _push_cell(owner: str | None, cell: dict[str, Any]) -> None:
    _push(owner, JOB_UPDATED, job_updated(cell["batchId"], cell))


_push_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="push")


def _announce_and_resume(owner: str | None, cell: dict[str, Any]) -> None:
    """The push and the workflow resume run side by side; both finish before we return (a
    Lambda is frozen once it answers)."""
    pushed = _push_pool.submit(_push_cell, owner, cell)
    try:
        _resume(cell)
    finally:
        pushed.result()


def _resume(cell: dict[str, Any]) -> bool:
    """Hands a terminal cell's outcome to its waiting task (if any). True when it was taken."""
    token = cell.get("taskToken")
    if not token:
        return False
    if cell["status"] == "completed":
        # Keys, never URLs: the next step signs what it hands over when it hands it over.
        taken = workflow.send_task_success(token, {"imageKey": cell.get("imageKey")})
    else:
        taken = workflow.send_task_failure(token, PREDICTION_FAILED, str(cell.get("error") or "failed"))
    get_repository().mark_task_notified(cell, token)
    return taken


def _failure_reason(prediction: Mapping[str, Any]) -> str:
    status = str(prediction.get("status"))
    error = prediction.get("error")
    if isinstance(error, dict):
        error = error.get("detail") or error.get("message") or json.dumps(error)[:500]
    if error:
        return f"{status}: {error}" if status != "failed" else str(error)
    return f"prediction {status}"


def _cell_keys(pointer: Mapping[str, Any]) -> tuple[str, str, str | None]:
    return str(pointer["batchId"]), str(pointer["angleKey"]), pointer.get("colorKey") or None


# ----- prediction updates (webhook and reconciler) ----------------------------------------


def handle_prediction_update(prediction: Mapping[str, Any], pointer: Mapping[str, Any]) -> str:
    """Applies one prediction state to its cell. Returns what happened (for logs and tests):
    ``processing``, ``completed``, ``failed``, ``unchanged``, ``resumed``, ``missing``, ``ignored``."""
    status = str(prediction.get("status") or "")
    batch_id, angle_key, color_key = _cell_keys(pointer)
    owner = pointer.get("owner")
    repo = get_repository()

    if status in RUNNING:
        cell = repo.mark_processing(batch_id, angle_key, color_key)
        if cell is None:
            return "unchanged"
        _push_cell(owner, cell)
        return "processing"

    if status not in ("succeeded", *FAILED):
        logger.info("prediction status ignored", extra={"status": status})
        return "ignored"

    cell = repo.get_cell(batch_id, angle_key, color_key)
    if cell is None:
        logger.warning("prediction points at a missing cell", extra={"angle_key": angle_key, "color_key": color_key})
        return "missing"
    if cell.get("predictionId") and prediction.get("id") and cell["predictionId"] != prediction["id"]:
        # A superseded prediction (the cell was re-run): only the current one decides.
        logger.info("update of a superseded prediction ignored", extra={"current": cell["predictionId"]})
        return "ignored"
    if not owner:  # the reconciler may not have the pointer: the batch knows the owner
        owner = (repo.get_batch(batch_id) or {}).get("owner")
    if cell["status"] in TERMINAL:
        return _already_terminal(cell, owner)

    if status == "succeeded":
        try:
            stored = persist_output(batch_id, angle_key, color_key, prediction.get("output"))
        except OutputRejected as error:
            logger.warning("output rejected", extra={"reason": error.message})
            return _fail(cell, owner, f"output rejected: {error.message}")
        logger.info("output persisted", extra={"timings_ms": stored.timings, "bytes": stored.size_bytes})
        completed = repo.complete_cell(cell, str(owner), stored.image_key, stored.thumb_key)
        if completed is None:
            return "unchanged"
        metrics.add_metric(name="CellsCompleted", unit="Count", value=1)
        _announce_and_resume(owner, completed)
        return "completed"

    return _fail(cell, owner, _failure_reason(prediction))


def _fail(cell: dict[str, Any], owner: str | None, reason: str) -> str:
    failed = get_repository().fail_cell(cell["batchId"], cell["angleKey"], cell.get("colorKey"), reason)
    if failed is None:
        return "unchanged"
    metrics.add_metric(name="CellsFailed", unit="Count", value=1)
    _announce_and_resume(owner, failed)
    return "failed"


def _already_terminal(cell: dict[str, Any], owner: str | None) -> str:
    if cell.get("taskToken") and not cell.get("taskNotifiedAt"):
        # The earlier delivery wrote the cell but has not resumed the workflow (yet, or ever).
        # Only the workflow is resumed here: the delivery that completed the cell owns its push
        # (a second push would announce the cell twice while that delivery is still running);
        # a client that missed it reads the cell from the snapshot on subscribe or reload.
        logger.info("resuming the workflow for an already terminal cell")
        _resume(cell)
        return "resumed"
    return "unchanged"


# ----- starting a cell (RunPrediction) ----------------------------------------------------


def webhook_url_for(base: str, batch_id: str, angle_key: str, color_key: str | None) -> str:
    query = {"batchId": batch_id, "angleKey": angle_key}
    if color_key:
        query["colorKey"] = color_key
    separator = "&" if "?" in base else "?"
    return f"{base}{separator}{urlencode(query)}"


def start_cell_prediction(
    batch_id: str,
    run_id: str | None,
    angle_key: str,
    color_key: str | None,
    task_token: str,
    webhook_base_url: str,
) -> dict[str, Any]:
    """Starts the cell's prediction once; a re-invocation only hands over the new task token.
    A cell of another run (a colourise run crosses its angles and colours, and some pairs were
    made earlier) is let pass at once: its own run owns it."""
    repo = get_repository()
    cell = repo.get_cell(batch_id, angle_key, color_key)
    if cell is None:
        raise NotFound(f"cell {angle_key}/{color_key or '-'} of batch {batch_id} not found", field="cell")
    if run_id and cell.get("runId", batch_id) != run_id:
        logger.info("cell belongs to another run: passed", extra={"owning_run": cell.get("runId", batch_id)})
        workflow.send_task_success(task_token, {"passed": True})
        return {"predictionId": cell.get("predictionId"), "otherRun": True}

    if cell["status"] in TERMINAL:
        logger.info("cell already terminal: resuming the workflow at once", extra={"status": cell["status"]})
        _resume({**cell, "taskToken": task_token})
        return {"predictionId": cell.get("predictionId"), "alreadyTerminal": True}

    if cell.get("predictionId"):
        repo.update_task_token(cell, task_token)
        logger.info("prediction already started: task token updated", extra={"prediction_id": cell["predictionId"]})
        latest = repo.get_cell(batch_id, angle_key, color_key)
        if latest is not None and latest["status"] in TERMINAL:
            # It finished while we swapped tokens: the finisher may have used the old token.
            _resume({**latest, "taskToken": task_token})
        return {"predictionId": cell["predictionId"], "reused": True}

    batch = repo.get_batch(batch_id)
    if batch is None:
        raise NotFound(f"batch {batch_id} not found", field="batchId")
    prompt = cell.get("prompt")
    if not prompt:
        raise ValidationFailed(f"cell {angle_key}/{color_key or '-'} has no prompt", field="prompt")
    image_input = _image_input(batch, cell)

    webhook = webhook_url_for(webhook_base_url, batch_id, angle_key, color_key)
    prediction_id = predictions.start_prediction(prompt, image_input, webhook)
    logger.debug(
        f"[MP] enqueue {angle_key}/{color_key or '-'}",
        extra={
            "angle_key": angle_key,
            "color_key": color_key,
            "prediction_id": prediction_id,
            "prompt_length": len(prompt),
            "image_count": len(image_input),
        },
    )
    try:
        repo.record_prediction(cell, str(batch["owner"]), prediction_id, task_token, image_input)
    except StateConflict:
        # The cell was closed meanwhile (e.g. its angle failed): the workflow already moved on.
        logger.info("cell closed before its prediction was recorded", extra={"prediction_id": prediction_id})
        latest = repo.get_cell(batch_id, angle_key, color_key) or cell
        _resume({**latest, "taskToken": task_token})
    metrics.add_metric(name="PredictionsStarted", unit="Count", value=1)
    return {"predictionId": prediction_id}


def _image_input(batch: dict[str, Any], cell: dict[str, Any]) -> list[str]:
    """What Replicate fetches, signed now: a URL signed earlier (at upload, or when the angle was
    stored) dies with the Lambda role's session, which lasts hours; colourise-later runs days on."""
    if not cell.get("colorKey"):
        sources = [handover_url(str(url)) for url in batch.get("sourceImageUrls") or []]
        if not sources:
            raise ValidationFailed("the batch has no source images", field="sourceImageUrls")
        return sources
    angle = get_repository().get_cell(cell["batchId"], cell["angleKey"], None)
    image_key = (angle or {}).get("imageKey")
    if not image_key:
        raise ValidationFailed(f"angle {cell['angleKey']} has no output to colour", field="imageKey")
    return [object_url(str(image_key), expires_in=HANDOVER_URL_SECONDS)]


def handover_url(url: str) -> str:
    """An own upload re-signed for Replicate; any other (allow-listed https) URL as it is."""
    key = own_upload_key(url)
    return object_url(key, expires_in=HANDOVER_URL_SECONDS) if key else url


# ----- failures caught by the workflow (RecordFailure) ------------------------------------


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


def record_failure(batch_id: str, angle_key: str, color_key: str | None, error: Mapping[str, Any] | None) -> int:
    """Fails the cell if still open and, for an angle, its open colour cells. Returns how many
    cells this call failed."""
    repo = get_repository()
    reason = failure_reason(error)
    batch = repo.get_batch(batch_id)
    owner = (batch or {}).get("owner")
    count = 0
    failed = repo.fail_cell(batch_id, angle_key, color_key, reason)
    if failed is not None:
        count += 1
        _push_cell(owner, failed)
        if failed.get("taskToken"):
            repo.mark_task_notified(failed, failed["taskToken"])
    if color_key:
        return count
    cells = repo.list_cells(batch_id)
    angle = next((c for c in cells if c.get("angleKey") == angle_key and not c.get("colorKey")), None)
    label = (angle or {}).get("angleLabel") or angle_key
    if angle and angle.get("status") == "failed" and angle.get("error"):
        reason = str(angle["error"])  # the cell's own reason beats the workflow's summary
    for cell in cells:
        if cell.get("angleKey") != angle_key or not cell.get("colorKey") or cell.get("status") in TERMINAL:
            continue
        closed = repo.fail_cell(batch_id, angle_key, cell["colorKey"], f"angle {label} failed: {reason}")
        if closed is not None:
            count += 1
            _push_cell(owner, closed)
    if count:
        metrics.add_metric(name="CellsFailed", unit="Count", value=count)
    return count


# ----- the end of a run (FinalizeBatch) ---------------------------------------------------

RUN_ENDED = "the workflow ended before this cell finished"


def close_open_cells(batch_id: str, run_id: str, workflow_error: Mapping[str, Any] | None) -> int:
    """Every branch of the run has ended, so a cell of the run still open was left by a branch
    that ended abnormally (RecordFailure out of retries, a runtime error, a timeout): it fails
    with the reason, so the batch can complete. Returns how many cells this call failed."""
    repo = get_repository()
    reason = RUN_ENDED
    if workflow_error and workflow_error.get("Error"):
        reason = f"{RUN_ENDED} ({failure_reason(workflow_error)})"
    owner = (repo.get_batch(batch_id) or {}).get("owner")
    count = 0
    for cell in repo.list_cells(batch_id):
        if cell.get("status") in TERMINAL or cell.get("runId", batch_id) != run_id:
            continue
        failed = repo.fail_cell(batch_id, cell["angleKey"], cell.get("colorKey"), reason)
        if failed is not None:
            count += 1
            _push_cell(owner, failed)
    if count:
        logger.warning("cells left open by the run failed", extra={"cells": count, "reason": reason})
        metrics.add_metric(name="CellsFailed", unit="Count", value=count)
    return count



def finalize_batch(batch_id: str) -> bool:
    """Marks the batch completed when every cell is terminal; announces it once."""
    batch = get_repository().complete_batch_if_done(batch_id)
    if batch is None:
        return False
    _push(batch.get("owner"), BATCH_COMPLETED, {"batchId": batch_id})
    metrics.add_metric(name="BatchesCompleted", unit="Count", value=1)
    return True
