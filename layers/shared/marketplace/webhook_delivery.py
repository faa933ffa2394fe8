"""A Replicate webhook delivery, from raw bytes to the cell path.

Order matters: size cap, then the signature on the RAW body (nothing changes when it fails), then
JSON, then the cell the webhook URL's query names (read directly: RunPrediction put the query
there), which must hold this prediction, then the one cell path in ``marketplace.cells``. The
cell's conditional transitions dedupe: a duplicate finds the cell terminal and changes nothing,
so no receipt is written. A dependency failure (raised to the handler, which answers 500) lets
Replicate retry: no lost image.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from . import cells, webhooks
from .color_check.service import CHECK_SECONDS as COLOR_CHECK_SECONDS
from .domain import Cell
from .errors import MalformedWebhook, PayloadTooLarge, RetryLater
from .observability import bind, logger
from .outputs import DOWNLOAD_DEADLINE_SECONDS, READ_TIMEOUT_SECONDS
from .repository import get_repository
from .statuses import RUNNING_PREDICTION

# A prediction JSON is a few KB, but an output may legally be a data URI (a ~2 MB PNG is ~2.7 MB
# of base64). Lambda refuses events over 6 MB (API Gateway answers 413 before we run), so the cap
# sits under that, with room for the event's envelope.
MAX_BODY_BYTES = 5 * 1024 * 1024
# A fast prediction's webhook can beat RunPrediction's write of the prediction id by a few
# milliseconds: a final one is worth waiting for (it carries the image).
RECORD_WAITS_SECONDS = (0.1, 0.25, 0.5, 1.0)
RECENT_PREDICTION_SECONDS = 300
# Owners are opaque ids (a Cognito sub, a dev name); anything longer is not one of ours.
MAX_OWNER_CHARS = 256
# The worst case of one delivery, which must fit in the function's Timeout, itself well under API
# Gateway's 30 s integration timeout (past it Replicate sees a 503 while we still work).
WEBHOOK_BUDGET_SECONDS = {
    "wait for the prediction's record": sum(RECORD_WAITS_SECONDS),
    "download (deadline + one read)": DOWNLOAD_DEADLINE_SECONDS + READ_TIMEOUT_SECONDS,
    "PNG check and thumbnail (40 MP at most)": 4.0,
    "colour check (the fed thumbnail's read and the measure, bounded)": COLOR_CHECK_SECONDS,
    "S3 puts, the cell transaction, Step Functions, push": 4.0,
}


def receive(headers: Mapping[str, str], raw: bytes, query: Mapping[str, str]) -> dict[str, Any]:
    """Verifies and applies one delivery; returns the 200 answer's body.

    Raises WebhookRejected (401), PayloadTooLarge (413), MalformedWebhook (400) and RetryLater (503);
    anything else is a dependency failure the caller answers with a 500.
    """
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body exceeds {MAX_BODY_BYTES} bytes", field="body")
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    webhooks.verify_webhook(lowered, raw, webhooks.webhook_secrets())
    prediction = _parse(raw)
    bind(prediction_id=str(prediction["id"]), webhook_id=lowered["webhook-id"], status=prediction["status"])
    if prediction["status"] in RUNNING_PREDICTION:
        return {"ok": True, "ignored": "not_final"}  # we subscribe to `completed` only

    batch_id, angle_key = query.get("batchId") or "", query.get("angleKey") or ""
    color_key = query.get("colorKey") or None
    if not batch_id or not angle_key:
        logger.warning("webhook without the cell in its query ignored")
        return {"ok": True, "ignored": "unknown_cell"}
    bind(batch_id=batch_id, angle_key=angle_key, color_key=color_key)
    attempt = _attempt(query)
    cell, connections = _cell_holding(batch_id, angle_key, color_key, attempt, _claimed_owner(query))
    if cell is None:
        logger.warning("webhook for a cell that does not exist ignored")
        return {"ok": True, "ignored": "unknown_cell"}
    if attempt != cell.attempt:
        logger.info("webhook for an earlier attempt of a retried cell ignored", extra={"attempt": cell.attempt})
        return {"ok": True, "ignored": "superseded"}
    if cell.predictionId != prediction["id"]:
        if not cell.predictionId and _is_recent(prediction):
            logger.warning("final webhook before the prediction was recorded: asking for a retry")
            raise RetryLater("prediction not recorded yet, retry later", field="id", code="unknown_prediction")
        logger.warning("webhook for a prediction that is not the cell's ignored", extra={"current": cell.predictionId})
        return {"ok": True, "ignored": "cell_mismatch"}
    outcome = cells.handle_prediction_update(prediction, cell, connections)
    logger.info("webhook handled", extra={"outcome": outcome})
    return {"ok": True, "outcome": outcome}


def _attempt(query: Mapping[str, str]) -> int | None:
    raw = query.get("attempt") or "1"
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


def _claimed_owner(query: Mapping[str, str]) -> str | None:
    """The owner the query names (untrusted: only used where the cell read agrees)."""
    owner = query.get("owner") or ""
    return owner if 0 < len(owner) <= MAX_OWNER_CHARS else None


def _cell_holding(batch_id: str, angle_key: str, color_key: str | None, attempt: int | None,
                  owner: str | None) -> tuple[Cell | None, list[str] | None]:
    """The named cell, and its owner's open connections when the query named the cell's owner
    (one read for both; None: the push looks them up). While this attempt of the cell holds no
    prediction yet, re-read a few times (RunPrediction's write may be a moment behind a fast
    prediction)."""
    repo = get_repository()

    def read() -> tuple[Cell | None, list[str] | None]:
        if owner is None:
            return repo.get_cell(batch_id, angle_key, color_key), None
        cell, connections = repo.get_cell_and_connections(batch_id, angle_key, color_key, owner)
        return cell, (connections if cell is not None and cell.owner == owner else None)

    cell, connections = read()
    for delay in RECORD_WAITS_SECONDS:
        if cell is None or cell.predictionId or cell.attempt != attempt:
            return cell, connections
        time.sleep(delay)
        cell, connections = read()
    return cell, connections


def _parse(raw: bytes) -> dict[str, Any]:
    """Our own parsing: the client's Prediction model rejects statuses such as `aborted`."""
    try:
        prediction = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedWebhook("body is not JSON", field="body", code="invalid_json") from error
    if not isinstance(prediction, dict) or not prediction.get("id") or not prediction.get("status"):
        raise MalformedWebhook("body must be a prediction with id and status", field="body")
    return prediction


def _is_recent(prediction: Mapping[str, Any]) -> bool:
    try:
        created = datetime.fromisoformat(str(prediction.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return 0 <= time.time() - created.timestamp() < RECENT_PREDICTION_SECONDS
