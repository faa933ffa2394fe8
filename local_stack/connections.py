"""Open WebSocket connections and the `@connections` management API that handlers post to."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .events import WsConnectionInfo

Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Connection:
    info: WsConnectionInfo
    send: Send
    loop: asyncio.AbstractEventLoop
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    last_active_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    closing: bool = False

    @property
    def connection_id(self) -> str:
        return self.info.connection_id

    async def send_data(self, data: bytes) -> None:
        try:
            message: dict[str, Any] = {"type": "websocket.send", "text": data.decode("utf-8")}
        except UnicodeDecodeError:
            message = {"type": "websocket.send", "bytes": data}
        async with self.lock:
            await self.send(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closing = True
        async with self.lock:
            await self.send({"type": "websocket.close", "code": code, "reason": reason})

    def describe(self) -> dict[str, Any]:
        return {
            "connectedAt": _iso(self.info.connected_at_ms),
            "identity": {"sourceIp": self.info.source_ip, "userAgent": self.info.user_agent},
            "lastActiveAt": _iso(self.last_active_ms),
        }


def _iso(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ConnectionRegistry:
    def __init__(self) -> None:
        self._connections: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
        self._connections[connection.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        self._connections.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        connection = self._connections.get(connection_id)
        return None if connection is None or connection.closing else connection

    def all(self) -> list[Connection]:
        return list(self._connections.values())

    def __len__(self) -> int:
        return len(self._connections)

    def post_threadsafe(self, connection_id: str, data: bytes, timeout: float = 5.0) -> bool:
        """Send from any thread (hands off to the connection's event loop). False if gone."""
        connection = self.get(connection_id)
        if connection is None:
            return False
        future = asyncio.run_coroutine_threadsafe(connection.send_data(data), connection.loop)
        try:
            future.result(timeout)
        except Exception:
            return False
        return True


def gone(connection_id: str) -> tuple[int, dict[str, str], bytes]:
    """What API Gateway answers for an unknown connection: botocore maps the
    `x-amzn-errortype` header to `GoneException`."""
    body = json.dumps({"message": f"Connection {connection_id} is gone"}).encode()
    return 410, {"x-amzn-errortype": "GoneException", "content-type": "application/json"}, body


def too_large() -> tuple[int, dict[str, str], bytes]:
    """What API Gateway answers a PostToConnection over the WebSocket message limit: botocore
    maps the header to `PayloadTooLargeException`."""
    body = json.dumps({"message": "Message too long"}).encode()
    return 413, {"x-amzn-errortype": "PayloadTooLargeException", "content-type": "application/json"}, body
