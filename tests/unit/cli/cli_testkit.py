"""Fakes for the CLI tests: an in-memory API (httpx.MockTransport) and an in-memory WebSocket."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from PIL import Image

from marketplace_cli.client import ApiClient

BASE = "/api/car/marketplace"
PRESETS = {
    "angles": [
        {"angleKey": "front_0", "angleLabel": "Front (0°)", "angleDesc": "front", "order": 1},
        {"angleKey": "side_90", "angleLabel": "Side (90°)", "angleDesc": "side", "order": 3},
    ],
    "colors": [
        {"colorKey": "red_metallic", "colorLabel": "Red Metallic", "promptValue": "Red #C00000 (metallic)"},
        {"colorKey": "blue_metallic", "colorLabel": "Blue Metallic", "promptValue": "Blue #1F4E9D (metallic)"},
    ],
    "pricing": {"pricePerImageUsd": 0.039, "currency": "USD"},
}


def png_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def result(angle: str, color: str | None, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "color" if color else "angle",
        "angleKey": angle,
        "colorKey": color,
        "status": status,
        "imageUrl": extra.get("imageUrl"),
        "thumbUrl": extra.get("thumbUrl"),
        "error": extra.get("error"),
        **({"attempt": extra["attempt"]} if "attempt" in extra else {}),
    }


def job_updated(batch_id: str, angle: str, color: str | None, status: str, **extra: Any) -> dict[str, Any]:
    return {"type": "marketplaceJobUpdated", "data": {"batchId": batch_id, "result": result(angle, color, status, **extra)}}


def snapshot(
    batch_id: str,
    cells: Iterable[dict[str, Any]],
    *,
    angles: list[str] | None = None,
    colors: list[str] | None = None,
    total: int | None = None,
    status: str = "running",
) -> dict[str, Any]:
    cell_list = list(cells)
    return {
        "batchId": batch_id,
        "status": status,
        "angles": angles if angles is not None else ["front_0", "side_90"],
        "colors": colors if colors is not None else ["red_metallic", "blue_metallic"],
        "autoColorize": True,
        "totalJobs": total if total is not None else len(cell_list),
        "completedJobs": sum(1 for c in cell_list if c["status"] == "completed"),
        "failedJobs": sum(1 for c in cell_list if c["status"] == "failed"),
        "createdAt": "2026-01-02T03:04:05.678Z",
        "sourceImageUrls": ["http://s3.fake/bucket/uploads/0.jpg"],
        "cells": cell_list,
    }


class FakeApi:
    """The HTTP API and S3 in memory; `client()` gives an ApiClient over it."""

    def __init__(self, batch_id: str = "batch-1") -> None:
        self.batch_id = batch_id
        self.lock = threading.Lock()
        self.requests: list[httpx.Request] = []
        self.puts: list[tuple[str, dict[str, str], bytes]] = []
        self.images: dict[str, bytes] = {}
        self.snapshots: list[dict[str, Any]] = []  # served in turn, the last one repeats
        self.tickets = 0
        self.created: list[dict[str, Any]] = []
        self.errors: dict[tuple[str, str], tuple[int, Any]] = {}
        self.on_create: Any = None
        self.presets: dict[str, Any] = PRESETS
        self.batch_pages: dict[str | None, dict[str, Any]] = {None: {"items": [], "nextToken": None}}  # by nextToken

    def client(self, **kwargs: Any) -> ApiClient:
        return ApiClient("http://api.fake", transport=httpx.MockTransport(self.handle), **kwargs)

    def next_snapshot(self) -> dict[str, Any]:
        with self.lock:
            if len(self.snapshots) > 1:
                return self.snapshots.pop(0)
            return self.snapshots[0]

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
        url = request.url
        path = url.path
        key = (request.method, path)
        if key in self.errors:
            status, body = self.errors[key]
            return httpx.Response(status, content=body if isinstance(body, bytes) else json.dumps(body).encode())
        if url.host == "s3.fake":
            if request.method == "PUT":
                self.puts.append((str(url), dict(request.headers), request.content))
                return httpx.Response(200)
            if path in self.images:
                return httpx.Response(200, content=self.images[path], headers={"Content-Type": "image/png"})
            return httpx.Response(404, content=b"<Error><Code>NoSuchKey</Code></Error>")
        if key == ("GET", f"{BASE}/config"):
            return httpx.Response(
                200,
                json={"websocketUrl": "ws://ws.fake/ws", "devMode": True, "maxSourceImages": 16, "maxUploadBytes": 1024 * 1024},
            )
        if key == ("GET", f"{BASE}/presets"):
            return httpx.Response(200, json=self.presets)
        if key == ("GET", f"{BASE}/batches"):
            return httpx.Response(200, json=self.batch_pages[url.params.get("nextToken")])
        if key == ("POST", f"{BASE}/uploads"):
            files = json.loads(request.content)["files"]
            return httpx.Response(
                200,
                json={
                    "uploads": [
                        {
                            "uploadUrl": f"http://s3.fake/bucket/uploads/{i}?X-Amz-Signature=abc",
                            "headers": {"Content-Type": f["contentType"]},
                            "sourceImageUrl": f"http://s3.fake/bucket/uploads/{i}?get",
                        }
                        for i, f in enumerate(files)
                    ]
                },
            )
        if key == ("POST", f"{BASE}/batch"):
            body = json.loads(request.content)
            self.created.append({"body": body, "headers": dict(request.headers)})
            if self.on_create:
                self.on_create()
            return httpx.Response(202, json={"batchId": self.batch_id, "totalJobs": 6, "cells": []})
        if key == ("GET", f"{BASE}/batch/{self.batch_id}"):
            return httpx.Response(200, json=self.next_snapshot())
        if request.method == "GET" and path.startswith(f"{BASE}/batch/"):
            return httpx.Response(404, json={"error": {"code": "not_found", "message": "batch not found", "field": "batchId"}})
        if key == ("POST", f"{BASE}/ws-ticket"):
            with self.lock:
                self.tickets += 1
                return httpx.Response(200, json={"ticket": f"ticket-{self.tickets}", "expiresAt": 0})
        if key == ("POST", f"{BASE}/batch/{self.batch_id}/colorize"):
            return httpx.Response(202, json={"batchId": self.batch_id, "totalJobs": 8, "createdJobs": 2})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": f"no route {key}"}})


class FakeSocket:
    """What `websockets.asyncio.client.connect` yields: async-iterable, `send`, `close`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.sent: list[dict[str, Any]] = []
        self.incoming: asyncio.Queue[Any] = asyncio.Queue()
        self.closed = False

    @property
    def ticket(self) -> str:
        return parse_qs(urlsplit(self.url).query)["ticket"][0]

    def push(self, message: dict[str, Any] | str) -> None:
        self.incoming.put_nowait(message if isinstance(message, str) else json.dumps(message))

    def drop(self, error: Exception | None = None) -> None:
        """The server goes away: iteration ends (or raises `error`)."""
        self.incoming.put_nowait(error or StopAsyncIteration())

    async def send(self, text: str) -> None:
        if self.closed:
            raise ConnectionError("closed")
        self.sent.append(json.loads(text))

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.incoming.put_nowait(StopAsyncIteration())

    def __aiter__(self) -> FakeSocket:
        return self

    async def __anext__(self) -> Any:
        item = await self.incoming.get()
        if isinstance(item, StopAsyncIteration):
            raise StopAsyncIteration
        if isinstance(item, Exception):
            raise item
        return item


class FakeConnector:
    """Records every connection; `script(socket, index)` may push messages as soon as it opens."""

    def __init__(self, script: Any = None) -> None:
        self.sockets: list[FakeSocket] = []
        self.script = script
        self.failures = 0  # fail this many connection attempts first

    async def __call__(self, url: str) -> FakeSocket:
        if self.failures:
            self.failures -= 1
            raise OSError("connection refused")
        socket = FakeSocket(url)
        self.sockets.append(socket)
        if self.script:
            self.script(socket, len(self.sockets) - 1)
        return socket
