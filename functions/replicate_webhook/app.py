"""POST /webhooks/replicate: Replicate's signed webhook (the only route without a user)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from marketplace import webhook_delivery
from marketplace.errors import DomainError, MalformedWebhook, WebhookRejected
from marketplace.http_errors import status_for
from marketplace.observability import lambda_entry, logger, metrics


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    try:
        return base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode("utf-8")
    except (binascii.Error, ValueError) as error:
        raise MalformedWebhook("body is not valid base64", field="body", code="invalid_body") from error


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        raw = _raw_body(event)
        body = webhook_delivery.receive(event.get("headers") or {}, raw, event.get("queryStringParameters") or {})
    except DomainError as error:
        if isinstance(error, WebhookRejected):
            logger.warning("webhook rejected", extra={"reason": error.message})
            metrics.add_metric(name="WebhooksRejected", unit=MetricUnit.Count, value=1)
        return _answer(status_for(error), {"error": {"code": error.code, "message": error.message}})
    except Exception:
        logger.exception("webhook handling failed")
        return _answer(500, {"error": {"code": "internal", "message": "the delivery could not be handled, retry later"}})
    return _answer(200, body)
