"""WebSocket routes: $connect checks the ticket, $disconnect forgets, subscribe catches up."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from marketplace import errors
from marketplace.connections import connect, disconnect, subscribe
from marketplace.observability import bind, lambda_entry, logger


def _answer(status: int, message: str | None = None) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps({"message": message}) if message else ""}


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), request.get("connectionId", "")
    bind(connection_id=connection_id, route=route)
    try:
        if route == "$connect":
            connect(connection_id, (event.get("queryStringParameters") or {}).get("ticket"))
        elif route == "$disconnect":
            disconnect(connection_id)
        elif route == "subscribe":
            subscribe(connection_id, event.get("body"))
        else:
            return _answer(400, "unknown action; send {\"action\": \"subscribe\", \"batchId\": ...}")
    except errors.Unauthorized as error:
        logger.info("websocket refused", extra={"reason": error.message})
        return _answer(401 if route == "$connect" else 403, error.message)
    except (errors.ValidationFailed, errors.NotFound) as error:
        return _answer(400 if isinstance(error, errors.ValidationFailed) else 404, error.message)
    return _answer(200)
