"""POST /webhooks/replicate: Replicate's signed webhook (the only route without a user).

Order matters: size cap, then the signature on the RAW body (401, nothing changes), then JSON,
then dedupe by ``webhook-id``, then the prediction pointer (the truth; the query must agree),
then the one cell path in ``marketplace.cells``. The receipt is written only after the delivery
was fully handled; a dependency failure answers 500 so Replicate retries (no lost image).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from marketplace import cells, webhooks
from marketplace.errors import WebhookRejected
from marketplace.observability import bind, logger, metrics, per_invocation, tracer
from marketplace.repository import get_repository

# A prediction JSON is a few KB, but an output may legally be a data URI (a ~2 MB PNG is ~2.7 MB
# of base64); API Gateway itself stops at 10 MB.
MAX_BODY_BYTES = 8 * 1024 * 1024
# A webhook can beat RunPrediction's pointer write by a few milliseconds: a final one is worth
# waiting for (it carries the image), a start one only briefly (it is not retried by Replicate).
POINTER_WAITS_SECONDS = (0.1, 0.25, 0.5, 1.0)
START_POINTER_WAITS_SECONDS = (0.05, 0.1, 0.2)
RECENT_PREDICTION_SECONDS = 300
_reads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="webhook-read")


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _error(status: int, code: str, message: str) -> dict[str, Any]:
    return _answer(status, {"error": {"code": code, "message": message}})


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body, validate=False)
    return body.encode("utf-8")


def _wait_for_pointer(prediction: dict[str, Any]) -> dict[str, Any] | None:
    """An update can beat RunPrediction's pointer write: look again a few times."""
    waits = START_POINTER_WAITS_SECONDS if prediction.get("status") in cells.RUNNING else POINTER_WAITS_SECONDS
    for delay in waits:
        time.sleep(delay)
        pointer = get_repository().get_prediction_pointer(str(prediction["id"]))
        if pointer is not None:
            return pointer
    return None


def _is_recent(prediction: dict[str, Any]) -> bool:
    try:
        created = datetime.fromisoformat(str(prediction.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return False
    return 0 <= time.time() - created.timestamp() < RECENT_PREDICTION_SECONDS


def _query_matches(event: dict[str, Any], pointer: dict[str, Any]) -> bool:
    query = event.get("queryStringParameters") or {}
    return (
        query.get("batchId") == pointer.get("batchId")
        and query.get("angleKey") == pointer.get("angleKey")
        and (query.get("colorKey") or None) == (pointer.get("colorKey") or None)
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@per_invocation
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        raw = _raw_body(event)
    except (binascii.Error, ValueError):
        return _error(400, "invalid_body", "body is not valid base64")
    if len(raw) > MAX_BODY_BYTES:
        return _error(413, "payload_too_large", f"body exceeds {MAX_BODY_BYTES} bytes")
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    try:
        webhooks.verify_webhook(headers, raw, webhooks.webhook_secrets())
    except WebhookRejected as error:
        logger.warning("webhook rejected", extra={"reason": error.message})
        metrics.add_metric(name="WebhooksRejected", unit="Count", value=1)
        return _error(401, error.code, error.message)
    try:
        prediction = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return _error(400, "invalid_json", "body is not JSON")
    if not isinstance(prediction, dict) or not prediction.get("id") or not prediction.get("status"):
        return _error(400, "invalid_prediction", "body must be a prediction with id and status")

    webhook_id = headers["webhook-id"]
    bind(prediction_id=str(prediction["id"]), webhook_id=webhook_id, status=prediction["status"])
    try:
        repo = get_repository()
        seen = _reads.submit(repo.has_webhook_receipt, webhook_id)  # both reads in one round trip time
        pointer = repo.get_prediction_pointer(str(prediction["id"]))
        if seen.result():
            return _answer(200, {"ok": True, "duplicate": True})
        pointer = pointer or _wait_for_pointer(prediction)
        if pointer is None:
            if prediction["status"] not in cells.RUNNING and _is_recent(prediction):
                logger.warning("terminal webhook for a prediction not recorded yet: asking for a retry")
                return _error(503, "unknown_prediction", "prediction not recorded yet, retry later")
            logger.warning("webhook for an unknown prediction ignored")
            return _answer(200, {"ok": True, "ignored": "unknown_prediction"})
        bind(batch_id=pointer["batchId"], angle_key=pointer["angleKey"], color_key=pointer.get("colorKey"))
        if not _query_matches(event, pointer):
            logger.warning("webhook query does not match the prediction's cell: ignored")
            return _answer(200, {"ok": True, "ignored": "cell_mismatch"})
        outcome = cells.handle_prediction_update(prediction, pointer)
        repo.put_webhook_receipt(webhook_id, str(prediction["id"]))
    except Exception:
        logger.exception("webhook handling failed")
        return _error(500, "internal", "the delivery could not be handled, retry later")
    logger.info("webhook handled", extra={"outcome": outcome})
    return _answer(200, {"ok": True, "outcome": outcome})
