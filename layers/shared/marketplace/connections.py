"""WebSocket connections: owner-bound by ticket, catch-up on subscribe."""

from __future__ import annotations

import json
import re

from .batches import snapshot_messages
from .errors import NotFound, Unauthorized, ValidationFailed
from .notifier import get_notifier
from .observability import bind_batch, logger
from .repository import get_repository
from .tickets import verify_ticket
from .views import JOB_UPDATED

_BATCH_ID = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_MESSAGE_BYTES = 8 * 1024


def connect(connection_id: str, ticket: str | None) -> str:
    owner = verify_ticket(ticket)
    get_repository().put_connection(connection_id, owner)
    logger.info("websocket connected", extra={"owner": owner})
    return owner


def disconnect(connection_id: str) -> None:
    get_repository().delete_connection(connection_id)


def subscribe(connection_id: str, body: str | None) -> int:
    """Sends the batch's current cells to this connection only; the live stream goes on after."""
    owner = get_repository().get_connection_owner(connection_id)
    if owner is None:
        raise Unauthorized("connection is not registered", field="connectionId")
    if body is None or len(body) > MAX_MESSAGE_BYTES:
        raise ValidationFailed("message must be JSON under 8 KiB", field="body")
    try:
        message = json.loads(body)
    except json.JSONDecodeError as error:
        raise ValidationFailed("message is not JSON", field="body") from error
    batch_id = message.get("batchId") if isinstance(message, dict) else None
    if not isinstance(batch_id, str) or not _BATCH_ID.match(batch_id):
        raise ValidationFailed("batchId is required", field="batchId")
    bind_batch(batch_id)
    try:
        messages = snapshot_messages(owner, batch_id)
    except NotFound:
        logger.info("subscription refused: not the owner's batch")
        raise
    notifier = get_notifier()
    for data in messages:
        notifier.send_to_connection(connection_id, owner, JOB_UPDATED, data)
    return len(messages)
