"""A Replicate webhook delivery, from raw bytes to the cell path.

Order matters: size cap, then the signature on the RAW body (nothing changes when it fails), then
JSON, then dedupe by ``webhook-id``, then the prediction pointer (the truth; the query must agree),
then the one cell path in ``marketplace.cells``. The receipt is written only after the delivery
was fully handled, so a dependency failure (raised to the handler, which answers 500) lets
Replicate retry: no lost image.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from . import cells, webhooks
from .domain import PredictionPointer
from .errors import MalformedWebhook, PayloadTooLarge, RetryLater
from .observability import bind, logger
from .outputs import DOWNLOAD_DEADLINE_SECONDS, READ_TIMEOUT_SECONDS
from .repository import get_repository
from .statuses import RUNNING_PREDICTION

# A prediction JSON is a few KB, but an output may legally be a data URI (a ~2 MB PNG is ~2.7 MB
# of base64). Lambda refuses events over 6 MB (API Gateway answers 413 before we run), so the cap
# sits under that, with room for the event's envelope.
MAX_BODY_BYTES = 5 * 1024 * 1024
# A webhook can beat RunPrediction's pointer write by a few milliseconds: a final one is worth
# waiting for (it carries the image), a start one only briefly (Replicate does not retry it).
POINTER_WAITS_SECONDS = (0.1, 0.25, 0.5, 1.0)
START_POINTER_WAITS_SECONDS = (0.05, 0.1, 0.2)
RECENT_PREDICTION_SECONDS = 300
# The worst case of one delivery, which must fit in the function's Timeout, itself well under API
# Gateway's 30 s integration timeout (past it Replicate sees a 503 while we still work).
WEBHOOK_BUDGET_SECONDS = {
    "pointer wait": sum(POINTER_WAITS_SECONDS),
    "download (deadline + one read)": DOWNLOAD_DEADLINE_SECONDS + READ_TIMEOUT_SECONDS,
    "PNG check and thumbnail (40 MP at most)": 4.0,
    "S3 puts, the cell transaction, Step Functions, push": 4.0,
}
_reads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhook-read")


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
    webhook_id = lowered["webhook-id"]
    bind(prediction_id=str(prediction["id"]), webhook_id=webhook_id, status=prediction["status"])

    repo = get_repository()
    seen = _reads.submit(repo.has_webhook_receipt, webhook_id)  # both reads in one round trip
    pointer = repo.get_prediction_pointer(str(prediction["id"]))
    if seen.result():
        return {"ok": True, "duplicate": True}
    pointer = pointer or _wait_for_pointer(prediction)
    if pointer is None:
        if prediction["status"] not in RUNNING_PREDICTION and _is_recent(prediction):
            logger.warning("terminal webhook for a prediction not recorded yet: asking for a retry")
            raise RetryLater("prediction not recorded yet, retry later", field="id", code="unknown_prediction")
        logger.warning("webhook for an unknown prediction ignored")
        return {"ok": True, "ignored": "unknown_prediction"}
    bind(batch_id=pointer.batchId, angle_key=pointer.angleKey, color_key=pointer.colorKey)
    if not _query_matches(query, pointer):
        logger.warning("webhook query does not match the prediction's cell: ignored")
        return {"ok": True, "ignored": "cell_mismatch"}
    outcome = cells.handle_prediction_update(prediction, pointer)
    repo.put_webhook_receipt(webhook_id, str(prediction["id"]))
    logger.info("webhook handled", extra={"outcome": outcome})
    return {"ok": True, "outcome": outcome}


def _parse(raw: bytes) -> dict[str, Any]:
    """Our own parsing: the client's Prediction model rejects statuses such as `aborted`."""
    try:
        prediction = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedWebhook("body is not JSON", field="body", code="invalid_json") from error
    if not isinstance(prediction, dict) or not prediction.get("id") or not prediction.get("status"):
        raise MalformedWebhook("body must be a prediction with id and status", field="body")
    return prediction


def _wait_for_pointer(prediction: Mapping[str, Any]) -> PredictionPointer | None:
    waits = START_POINTER_WAITS_SECONDS if prediction.get("status") in RUNNING_PREDICTION else POINTER_WAITS_SECONDS
    for delay in waits:
        time.sleep(delay)
        pointer = get_repository().get_prediction_pointer(str(prediction["id"]))
        if pointer is not None:
            return pointer
    return None


def _is_recent(prediction: Mapping[str, Any]) -> bool:
    try:
        created = datetime.fromisoformat(str(prediction.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return 0 <= time.time() - created.timestamp() < RECENT_PREDICTION_SECONDS


def _query_matches(query: Mapping[str, str], pointer: PredictionPointer) -> bool:
    return (
        query.get("batchId") == pointer.batchId
        and query.get("angleKey") == pointer.angleKey
        and (query.get("colorKey") or None) == (pointer.colorKey or None)
    )
