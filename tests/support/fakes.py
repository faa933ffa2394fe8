"""Fakes shared by unit tests."""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import ClientError


class FakeWebSocketManagement:
    """Stands in for the apigatewaymanagementapi client; `gone` connections answer 410."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, Any]]] = []
        self.gone: set[str] = set()
        self._lock = threading.Lock()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.gone:
            raise ClientError({"Error": {"Code": "GoneException", "Message": "gone"}}, "PostToConnection")
        with self._lock:
            self.posts.append((ConnectionId, json.loads(Data)))
        return {}

    def messages(self, connection_id: str | None = None, message_type: str | None = None) -> list[dict[str, Any]]:
        return [
            m for c, m in self.posts
            if (connection_id is None or c == connection_id) and (message_type is None or m["type"] == message_type)
        ]
