"""A plain HTTP + WebSocket client of the API, as the web app behaves (for e2e tests)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from PIL import Image
from websockets.sync.client import ClientConnection, connect

BASE = "/api/car/marketplace"


def jpeg_bytes(seed: int = 0, size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.new("RGB", size, (30 + seed * 20 % 200, 60, 90))
    for x in range(40, size[0] - 40):
        for y in range(size[1] // 2, size[1] // 2 + 40):
            image.putpixel((x, y), (0, 140 + seed * 10 % 100, 120))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


class Listener:
    """Collects every WebSocket message on a background thread."""

    def __init__(self, url: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._opened = threading.Event()
        self._error: BaseException | None = None
        self.connection: ClientConnection | None = None
        self._thread = threading.Thread(target=self._run, args=(url,), daemon=True)
        self._thread.start()
        self._opened.wait(15)
        if self.connection is None:
            raise RuntimeError(f"WebSocket did not open: {self._error!r}")

    def _run(self, url: str) -> None:
        try:
            with connect(url, open_timeout=10) as connection:
                self.connection = connection
                self._opened.set()
                for raw in connection:
                    with self._cond:
                        self.messages.append(json.loads(raw))
                        self._cond.notify_all()
        except Exception as error:
            self._error = error
        finally:
            self._opened.set()

    def send(self, message: dict[str, Any]) -> None:
        assert self.connection is not None
        self.connection.send(json.dumps(message))

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"condition not met; got {len(self.messages)} messages: {self.messages[-5:]}")
                self._cond.wait(remaining)
            return list(self.messages)

    def of_batch(self, batch_id: str, message_type: str | None = None) -> list[dict[str, Any]]:
        with self._cond:
            return [m for m in self.messages if m.get("data", {}).get("batchId") == batch_id
                    and (message_type is None or m["type"] == message_type)]

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
        self._thread.join(5)


class E2EClient:
    def __init__(self, base_url: str, user: str = "dev-user") -> None:
        self.http = httpx.Client(base_url=base_url, headers={"X-Dev-User": user}, timeout=30)
        self.user = user

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def presets(self) -> dict[str, Any]:
        answer = self.http.get(f"{BASE}/presets")
        answer.raise_for_status()
        return dict(answer.json())

    def upload(self, images: list[bytes]) -> list[str]:
        files = [{"filename": f"car-{i}.jpg", "contentType": "image/jpeg", "size": len(b)} for i, b in enumerate(images)]
        answer = self.http.post(f"{BASE}/uploads", json={"files": files})
        answer.raise_for_status()
        urls = []
        for slot, data in zip(answer.json()["uploads"], images, strict=True):
            put = httpx.put(slot["uploadUrl"], content=data, headers=slot["headers"], timeout=30)
            put.raise_for_status()
            urls.append(slot["sourceImageUrl"])
        return urls

    def listen(self) -> Listener:
        config = self.http.get(f"{BASE}/config").json()
        ticket = self.http.post(f"{BASE}/ws-ticket").json()["ticket"]
        return Listener(f"{config['websocketUrl']}?ticket={ticket}")

    def create_batch(self, sources: list[str], angles: list[str], colors: list[str], auto: bool = True) -> dict[str, Any]:
        answer = self.http.post(f"{BASE}/batch", json={"sourceImageUrls": sources, "angles": angles,
                                                       "colors": colors, "autoColorize": auto})
        assert answer.status_code == 202, answer.text
        return answer.json()

    def snapshot(self, batch_id: str) -> dict[str, Any]:
        answer = self.http.get(f"{BASE}/batch/{batch_id}")
        answer.raise_for_status()
        return answer.json()

    def wait_completed(self, batch_id: str, timeout: float = 60) -> dict[str, Any]:
        """The snapshot once the batch has its outcome (any status but running)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snap = self.snapshot(batch_id)
            if snap["status"] != "running":
                return snap
            time.sleep(0.2)
        raise TimeoutError(f"batch {batch_id} not finished: {self.snapshot(batch_id)}")

    def close(self) -> None:
        self.http.close()


def terminal_updates(messages: list[dict[str, Any]]) -> dict[tuple[str, str | None], list[str]]:
    """Per cell, the terminal statuses pushed (completed/failed), in arrival order."""
    seen: dict[tuple[str, str | None], list[str]] = {}
    for m in messages:
        if m["type"] != "marketplaceJobUpdated":
            continue
        result = m["data"]["result"]
        if result["status"] in ("completed", "failed"):
            seen.setdefault((result["angleKey"], result["colorKey"]), []).append(result["status"])
    return seen
