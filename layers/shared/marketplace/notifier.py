"""Pushes {type, data} to every open WebSocket connection of a batch's owner."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from .aws import ws_management_client
from .observability import logger
from .repository import Repository, get_repository

# One shared pool for every push of the process: threads are reused instead of started per push,
# and sized for the local stack, where all concurrent invocations share the process (on Lambda one
# invocation uses a few of them). Started only when needed; 64 = the client's connection pool.
_FAN_OUT_THREADS = 64
_fan_out = ThreadPoolExecutor(max_workers=_FAN_OUT_THREADS, thread_name_prefix="push-fan-out")


class Notifier:
    def __init__(self, repository: Repository | None = None, client: Any = None) -> None:
        self._repository = repository or get_repository()
        self._client = client or ws_management_client()

    def push_to_owner(self, owner: str, message_type: str, data: dict[str, Any],
                      connections: list[str] | None = None) -> int:
        """Returns how many connections received the message. Never raises for a dead socket.
        ``connections``: the owner's open connections when the caller read them already."""
        if connections is None:
            connections = self._repository.list_owner_connections(owner)
        if not connections:
            return 0
        payload = json.dumps({"type": message_type, "data": data}, separators=(",", ":")).encode()
        if len(connections) == 1:
            return int(self._post(connections[0], owner, payload))
        return sum(_fan_out.map(lambda c: self._post(c, owner, payload), connections))

    def send_to_connection(self, connection_id: str, owner: str, message_type: str, data: dict[str, Any]) -> bool:
        payload = json.dumps({"type": message_type, "data": data}, separators=(",", ":")).encode()
        return self._post(connection_id, owner, payload)

    def _post(self, connection_id: str, owner: str, payload: bytes) -> bool:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=payload)
            return True
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code in ("GoneException", "410"):
                logger.info("connection gone, removing it", extra={"connection_id": connection_id})
                self._repository.delete_connection(connection_id, owner)
            else:
                logger.warning("push failed", extra={"connection_id": connection_id, "error_code": code})
            return False


_notifier: Notifier | None = None


def get_notifier() -> Notifier:
    global _notifier
    if _notifier is None:
        _notifier = Notifier()
    return _notifier


def reset_notifier() -> None:
    global _notifier
    _notifier = None
