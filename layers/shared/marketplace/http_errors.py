"""The one mapping from domain errors to HTTP answers: {"error": {code, message, field?}}."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from . import errors

if TYPE_CHECKING:  # the event handler package costs ~50 ms of a cold start the webhook never needs
    from aws_lambda_powertools.event_handler import Response

STATUS = {
    errors.ValidationFailed: 422,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.StateConflict: 409,
    errors.Unauthorized: 401,
    errors.PayloadTooLarge: 413,
    errors.WebhookRejected: 401,
    errors.PresetsUnavailable: 503,
    errors.RetryLater: 503,
    errors.MalformedWebhook: 400,
    errors.PresetsInvalid: 503,
}


def status_for(error: errors.DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_body(code: str, message: str, field: str | None = None) -> str:
    detail: dict[str, Any] = {"code": code, "message": message}
    if field:
        detail["field"] = field
    return json.dumps({"error": detail})


def error_response(error: errors.DomainError) -> Response[str]:
    from aws_lambda_powertools.event_handler import Response, content_types

    return Response(status_for(error), content_types.APPLICATION_JSON, error_body(error.code, error.message, error.field))


def field_path(loc: Sequence[Any]) -> str:
    """('body', 'angles', 0) -> 'angles[0]'; the transport part of the location is dropped."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "header", "path"):
        parts = parts[1:]
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "body"


def validation_error_response(details: Sequence[dict[str, Any]]) -> Response[str]:
    first = details[0] if details else {"loc": ("body",), "msg": "invalid request", "type": "invalid"}
    field = field_path(first.get("loc", ()))
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        field, message = "body", "request body is not valid JSON"
    elif first.get("type") == "missing":
        message = "field required"
    from aws_lambda_powertools.event_handler import Response, content_types

    return Response(422, content_types.APPLICATION_JSON, error_body("validation_failed", f"{field}: {message}", field))
