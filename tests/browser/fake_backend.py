"""A test-only fake of the Car Marketplace HTTP + WebSocket API that also serves ``web/``.

It speaks the contract of ``shared/DESIGN.md`` closely enough for component-level browser
tests of the page, and lets a test drive it from the test thread:

    backend = FakeBackend().start()
    backend.update_cell(batch_id, "front_0", None, "completed")   # pushes marketplaceJobUpdated
    backend.drop_connections()                                      # the page must reconnect
    backend.stop()

Run it by hand to look at the page with generated images filling in on their own:

    python tests/browser/fake_backend.py --port 8765 --autoplay 1.5
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import re
import socket
import threading
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import uvicorn
from PIL import Image, ImageDraw, ImageFilter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

WEB_DIR = Path(__file__).resolve().parents[2] / "web"

# Deliberately not in `order` order: the page must sort by `order`.
DEFAULT_ANGLES: list[dict[str, Any]] = [
    {"angleKey": "side_90", "angleLabel": "Side profile", "angleDesc": "Full side view, 90°", "order": 3},
    {"angleKey": "front_0", "angleLabel": "Front", "angleDesc": "Straight-on front view", "order": 1},
    {"angleKey": "front_45", "angleLabel": "Front three-quarter", "angleDesc": "Front corner view, 45°", "order": 2},
    {"angleKey": "rear_135", "angleLabel": "Rear three-quarter", "angleDesc": "Rear corner view, 135°", "order": 4},
    {"angleKey": "rear_180", "angleLabel": "Rear", "angleDesc": "Straight-on rear view", "order": 5},
]

DEFAULT_COLORS: list[dict[str, Any]] = [
    {"colorKey": "red_metallic", "colorLabel": "Red Metallic", "promptValue": "deep candy red metallic paint (#B3121F)"},
    {"colorKey": "blue_metallic", "colorLabel": "Blue Metallic", "promptValue": "ocean blue metallic paint #1F4FA3"},
    {"colorKey": "black_onyx", "colorLabel": "Onyx Black", "promptValue": "glossy onyx black paint (#15171A)"},
    {"colorKey": "white_pearl", "colorLabel": "Pearl White", "promptValue": "pearl white tri-coat (#F1F0EA)"},
    {"colorKey": "silver", "colorLabel": "Silver", "promptValue": "bright silver metallic paint"},
    {"colorKey": "green_racing", "colorLabel": "Racing Green", "promptValue": "British racing green (#1B4D3E)"},
]

ALLOWED_TYPES = {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"}
STATUS_RANK = {"queued": 0, "processing": 1, "completed": 2, "failed": 2}
HEX_RE = re.compile(r"#[0-9a-fA-F]{6}")


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error(status: int, code: str, message: str, field: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if field:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status)


# --------------------------------------------------------------------------- images


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _shade(rgb: tuple[int, int, int], factor: float) -> tuple[int, int, int]:
    if factor >= 1:
        return tuple(int(c + (255 - c) * (factor - 1)) for c in rgb)  # type: ignore[return-value]
    return tuple(int(c * factor) for c in rgb)  # type: ignore[return-value]


@lru_cache(maxsize=256)
def render_car_png(paint_hex: str, angle_key: str, width: int) -> bytes:
    """A small studio shot of a stylised car (side profile), mirrored for rear angles."""
    w, h = width, width * 3 // 4
    s = w / 960
    img = Image.new("RGB", (w, h), (236, 238, 242))
    draw = ImageDraw.Draw(img)
    horizon = int(h * 0.68)
    for y in range(h):  # wall and floor gradients
        if y < horizon:
            t = y / horizon
            c = int(226 + 26 * t)
            draw.line([(0, y), (w, y)], fill=(c, c + 1, c + 4))
        else:
            t = (y - horizon) / (h - horizon)
            c = int(214 + 30 * t)
            draw.line([(0, y), (w, y)], fill=(c, c + 1, c + 3))
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).ellipse([150 * s, 560 * s, 810 * s, 640 * s], fill=150)
    shadow = shadow.filter(ImageFilter.GaussianBlur(18 * s))
    img.paste((40, 44, 52), (0, 0), shadow)
    draw = ImageDraw.Draw(img)

    paint = _hex_to_rgb(paint_hex)
    dark, light = _shade(paint, 0.62), _shade(paint, 1.25)

    def poly(points: list[tuple[float, float]], fill: tuple[int, int, int]) -> None:
        draw.polygon([(x * s, y * s) for x, y in points], fill=fill)

    # body
    poly(
        [
            (150, 500),
            (160, 430),
            (230, 405),
            (340, 395),
            (420, 330),
            (560, 322),
            (650, 390),
            (780, 410),
            (825, 440),
            (830, 500),
            (800, 540),
            (180, 540),
        ],
        paint,
    )
    poly([(160, 470), (830, 470), (830, 500), (800, 540), (180, 540), (150, 500)], dark)
    poly([(240, 415), (770, 418), (776, 428), (236, 426)], light)
    # windows
    poly([(440, 342), (548, 336), (548, 392), (392, 395)], (38, 46, 58))
    poly([(562, 336), (632, 392), (562, 392)], (38, 46, 58))
    # wheels
    for cx in (275, 705):
        draw.ellipse([(cx - 62) * s, (478) * s, (cx + 62) * s, (602) * s], fill=(24, 26, 30))
        draw.ellipse([(cx - 36) * s, (504) * s, (cx + 36) * s, (576) * s], fill=(176, 182, 190))
        draw.ellipse([(cx - 12) * s, (528) * s, (cx + 12) * s, (552) * s], fill=(90, 96, 104))
    # lights
    poly([(805, 432), (828, 446), (826, 462), (800, 452)], (250, 236, 200))
    poly([(152, 452), (170, 440), (172, 470), (151, 474)], (200, 40, 40))
    if angle_key.startswith("rear"):
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    out = io.BytesIO()
    img.save(out, "PNG", optimize=False)
    return out.getvalue()


# --------------------------------------------------------------------------- backend


class FakeBackend:
    """In-memory fake of the marketplace API. Public methods are safe to call from the test thread."""

    def __init__(
        self,
        web_dir: Path = WEB_DIR,
        *,
        autoplay: float | None = None,
        gallery_page_size: int = 8,
        ws_path: str = "/ws",
    ) -> None:
        self.web_dir = web_dir
        self.autoplay = autoplay
        self.gallery_page_size = gallery_page_size
        self.ws_path = ws_path
        self.angles = [dict(a) for a in DEFAULT_ANGLES]
        self.colors = [dict(c) for c in DEFAULT_COLORS]
        self.batches: dict[str, dict[str, Any]] = {}
        self.gallery: list[dict[str, Any]] = []  # newest first
        self.uploads: dict[str, dict[str, Any]] = {}
        self.tickets: dict[str, float] = {}
        self.tickets_issued = 0
        self.connections: dict[str, WebSocket] = {}
        self.connects = 0
        self.subscribes: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.faults: dict[str, list[tuple[int, str, str]]] = {}
        self.subscribe_sends_snapshot = True
        self.early_update = False  # push a job update before answering POST /batch
        self.base_url = ""
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._counter = itertools.count(1)
        self.app = self._build_app()

    # ----------------------------------------------------------------- lifecycle

    def start(self, port: int = 0, host: str = "127.0.0.1") -> FakeBackend:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        self.base_url = f"http://{host}:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1, access_log=False)
        self._server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()

        def run() -> None:
            assert self.loop is not None and self._server is not None
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self._server.serve(sockets=[sock]))

        self._thread = threading.Thread(target=run, name="fake-backend", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake backend did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        with contextlib.suppress(Exception):  # best effort on teardown
            self.drop_connections()
        self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=5)

    def _call(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    # ----------------------------------------------------------------- test controls

    def fail_next(self, route: str, status: int, code: str, message: str) -> None:
        """The next request to `route` (presets, uploads, put, batch, get_batch, colorize, ws_ticket,
        gallery, config) answers with this error."""
        self.faults.setdefault(route, []).append((status, code, message))

    def update_cell(
        self,
        batch_id: str,
        angle_key: str,
        color_key: str | None,
        status: str,
        *,
        push: bool = True,
        error_message: str | None = None,
    ) -> None:
        self._call(self._update_cell(batch_id, angle_key, color_key, status, push, error_message))

    def complete_all(self, batch_id: str, *, push: bool = True) -> None:
        for cell in list(self.batches[batch_id]["cells"].values()):
            self.update_cell(batch_id, cell["angleKey"], cell["colorKey"], "completed", push=push)

    def push(self, type_: str, data: dict[str, Any]) -> None:
        self._call(self._broadcast(type_, data))

    def drop_connections(self) -> None:
        self._call(self._drop_connections())

    def seed_batch(
        self,
        angles: list[str],
        colors: list[str],
        *,
        auto: bool = True,
        statuses: dict[tuple[str, str | None], str] | None = None,
    ) -> str:
        """Create a batch without the page (for ?batch= restore tests); `statuses` presets cells."""
        batch_id = self._call(self._create_batch(angles, colors, auto, [], broadcast=False))
        for (a, c), status in (statuses or {}).items():
            if status in ("processing", "completed", "failed"):
                if status != "processing":
                    self.update_cell(batch_id, a, c, "processing", push=False)
                self.update_cell(batch_id, a, c, status, push=False)
        return batch_id

    def seed_gallery(self, count: int) -> list[dict[str, Any]]:
        """Add `count` assets of an old batch, oldest first, so the newest ends up first."""
        batch_id = "b000-old"
        keys = [(a["angleKey"], c["colorKey"]) for a in self.angles for c in self.colors]
        for i in range(count):
            a, c = keys[i % len(keys)]
            image, thumb = self._cell_urls(batch_id, a, c)
            self.gallery.insert(
                0,
                {
                    "assetId": f"{batch_id}.{a}.{c}.{i}",
                    "imageUrl": image,
                    "thumbUrl": thumb,
                    "batchId": batch_id,
                    "angleKey": a,
                    "colorKey": c,
                    "createdAt": f"2025-01-{1 + i // 24:02d}T{i % 24:02d}:00:00.000Z",
                },
            )
        return list(self.gallery)

    def latest_batch_id(self) -> str:
        return list(self.batches)[-1]

    def requests_to(self, method: str, path_prefix: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == method and r["path"].startswith(path_prefix)]

    # ----------------------------------------------------------------- internals

    def _fault(self, route: str) -> JSONResponse | None:
        queue = self.faults.get(route)
        if queue:
            status, code, message = queue.pop(0)
            return error(status, code, message)
        return None

    async def _record(self, request: Request) -> Any:
        body: Any = None
        raw = await request.body()
        if raw and request.headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": str(request.url.query),
                "headers": dict(request.headers),
                "json": body,
                "size": len(raw),
                "t": time.monotonic(),
            }
        )
        return body

    def _paint_for(self, color_key: str | None) -> str:
        if color_key is None:
            return "#A7ADB6"
        for c in self.colors:
            if c["colorKey"] == color_key:
                m = HEX_RE.search(c["promptValue"])
                return m.group(0) if m else "#B9BEC6"
        return "#888888"

    def _cell_urls(self, batch_id: str, angle_key: str, color_key: str | None) -> tuple[str, str]:
        stem = f"{self.base_url}/fake-assets/{batch_id}/{angle_key}/{color_key or 'angle'}"
        return f"{stem}.png", f"{stem}.thumb.png"

    @staticmethod
    def _public(cell: dict[str, Any]) -> dict[str, Any]:
        return {k: cell.get(k) for k in ("type", "angleKey", "colorKey", "status", "imageUrl", "thumbUrl", "error")}

    def _snapshot(self, batch: dict[str, Any]) -> dict[str, Any]:
        return {
            "batchId": batch["batchId"],
            "status": batch["status"],
            "angles": batch["angles"],
            "colors": batch["colors"],
            "autoColorize": batch["autoColorize"],
            "totalJobs": len(batch["cells"]),
            "cells": [self._public(c) for c in batch["cells"].values()],
        }

    async def _broadcast(self, type_: str, data: dict[str, Any]) -> None:
        message = json.dumps({"type": type_, "data": data})
        for conn_id, ws in list(self.connections.items()):
            try:
                await ws.send_text(message)
            except Exception:  # a closed socket just leaves
                self.connections.pop(conn_id, None)

    async def _drop_connections(self) -> None:
        for conn_id, ws in list(self.connections.items()):
            self.connections.pop(conn_id, None)
            with contextlib.suppress(Exception):
                await ws.close(code=1012)

    async def _update_cell(
        self,
        batch_id: str,
        angle_key: str,
        color_key: str | None,
        status: str,
        push: bool,
        error_message: str | None,
    ) -> None:
        batch = self.batches[batch_id]
        key = (angle_key, color_key)
        cell = batch["cells"][key]
        if STATUS_RANK[status] < STATUS_RANK[cell["status"]] or cell["status"] in ("completed", "failed"):
            return  # forward only, like the real backend
        cell["status"] = status
        if status == "completed":
            cell["imageUrl"], cell["thumbUrl"] = self._cell_urls(batch_id, angle_key, color_key)
            asset_id = f"{batch_id}.{angle_key}.{color_key or 'angle'}"
            self.gallery.insert(
                0,
                {
                    "assetId": asset_id,
                    "imageUrl": cell["imageUrl"],
                    "thumbUrl": cell["thumbUrl"],
                    "batchId": batch_id,
                    "angleKey": angle_key,
                    "colorKey": color_key,
                    "createdAt": _now_iso(),
                },
            )
        if status == "failed":
            cell["error"] = error_message or "The model could not produce an image"
        if push:
            await self._broadcast("marketplaceJobUpdated", {"batchId": batch_id, "result": self._public(cell)})
        all_done = all(c["status"] in ("completed", "failed") for c in batch["cells"].values())
        if all_done and batch["status"] != "completed":
            batch["status"] = "completed"
            if push:
                await self._broadcast("marketplaceBatchCompleted", {"batchId": batch_id})

    async def _create_batch(
        self, angles: list[str], colors: list[str], auto: bool, sources: list[str], *, broadcast: bool
    ) -> str:
        batch_id = f"b{next(self._counter):03d}-{uuid.uuid4().hex[:8]}"
        cells: dict[tuple[str, str | None], dict[str, Any]] = {}
        for a in angles:
            cells[(a, None)] = {
                "type": "angle",
                "angleKey": a,
                "colorKey": None,
                "status": "queued",
                "imageUrl": None,
                "thumbUrl": None,
                "error": None,
            }
        if auto:
            for a in angles:
                for c in colors:
                    cells[(a, c)] = {
                        "type": "color",
                        "angleKey": a,
                        "colorKey": c,
                        "status": "queued",
                        "imageUrl": None,
                        "thumbUrl": None,
                        "error": None,
                    }
        self.batches[batch_id] = {
            "batchId": batch_id,
            "status": "running",
            "angles": list(angles),
            "colors": list(colors),
            "autoColorize": auto,
            "sourceImageUrls": sources,
            "cells": cells,
        }
        if broadcast:
            await self._broadcast(
                "marketplaceBatchCreated", {"batchId": batch_id, "totalJobs": len(cells), "angles": angles, "colors": colors}
            )
        return batch_id

    async def _autoplay_cells(self, batch_id: str, keys: list[tuple[str, str | None]]) -> None:
        delay = self.autoplay or 1.0
        batch = self.batches[batch_id]

        async def run_angle(i: int, angle_key: str) -> None:
            await asyncio.sleep(delay * (0.3 + 0.4 * i))
            angle_cell = batch["cells"][(angle_key, None)]
            if (angle_key, None) in keys:
                await self._update_cell(batch_id, angle_key, None, "processing", True, None)
                await asyncio.sleep(delay * 2)
                await self._update_cell(batch_id, angle_key, None, "completed", True, None)
            if angle_cell["status"] != "completed":
                return
            colours = [c for (a, c) in keys if a == angle_key and c is not None]
            for j, colour in enumerate(colours):
                await asyncio.sleep(delay * 0.5 * (j > 0))
                await self._update_cell(batch_id, angle_key, colour, "processing", True, None)

            async def finish(j: int, colour: str) -> None:
                await asyncio.sleep(delay * (1.5 + 0.7 * j))
                await self._update_cell(batch_id, angle_key, colour, "completed", True, None)

            await asyncio.gather(*(finish(j, c) for j, c in enumerate(colours)))

        angles = list(dict.fromkeys(a for a, _ in keys))
        await asyncio.gather(*(run_angle(i, a) for i, a in enumerate(angles)))

    # ----------------------------------------------------------------- routes

    def _build_app(self) -> Starlette:
        async def config(request: Request) -> Response:
            await self._record(request)
            if fault := self._fault("config"):
                return fault
            ws_base = self.base_url.replace("http://", "ws://")
            return JSONResponse({"websocketUrl": f"{ws_base}{self.ws_path}", "devMode": True, "stage": "fake"})

        async def presets(request: Request) -> Response:
            await self._record(request)
            if fault := self._fault("presets"):
                return fault
            return JSONResponse({"angles": self.angles, "colors": self.colors})

        async def uploads(request: Request) -> Response:
            body = await self._record(request)
            if fault := self._fault("uploads"):
                return fault
            files = (body or {}).get("files")
            if not isinstance(files, list) or not files:
                return error(400, "ValidationFailed", "files must be a non-empty list", "files")
            out = []
            for i, f in enumerate(files):
                ctype = f.get("contentType")
                if ctype not in ALLOWED_TYPES:
                    return error(400, "ValidationFailed", f"Unsupported image type: {ctype}", f"files[{i}].contentType")
                if not isinstance(f.get("size"), int) or f["size"] <= 0:
                    return error(400, "ValidationFailed", "size must be a positive integer", f"files[{i}].size")
                ext = ctype.split("/")[1].replace("jpeg", "jpg")
                name = f"{uuid.uuid4().hex}.{ext}"
                self.uploads[name] = {"contentType": ctype, "filename": f.get("filename"), "size": f["size"], "data": None}
                out.append(
                    {
                        "uploadUrl": f"{self.base_url}/fake-s3/uploads/{name}?X-Amz-Signature=fake",
                        "headers": {"Content-Type": ctype},
                        "sourceImageUrl": f"{self.base_url}/fake-s3/uploads/{name}",
                    }
                )
            return JSONResponse({"uploads": out})

        async def s3_object(request: Request) -> Response:
            name = request.path_params["name"]
            entry = self.uploads.get(name)
            if request.method == "PUT":
                await self._record(request)
                if fault := self._fault("put"):
                    return fault
                if entry is None:
                    return Response(status_code=403)
                if request.headers.get("content-type") != entry["contentType"]:
                    return Response("content-type mismatch", status_code=403)
                entry["data"] = await request.body()
                return Response(status_code=200)
            if entry is None or entry["data"] is None:
                return Response(status_code=404)
            return Response(entry["data"], media_type=entry["contentType"])

        async def create_batch(request: Request) -> Response:
            body = await self._record(request)
            if fault := self._fault("batch"):
                return fault
            if not isinstance(body, dict):
                return error(400, "ValidationFailed", "Body must be a JSON object")
            sources = body.get("sourceImageUrls")
            if not isinstance(sources, list) or not sources:
                return error(400, "ValidationFailed", "sourceImageUrls must be a non-empty list", "sourceImageUrls")
            for url in sources:
                name = str(url).rsplit("/", 1)[-1]
                if name not in self.uploads or self.uploads[name]["data"] is None:
                    return error(400, "ValidationFailed", f"Unknown source image {url}", "sourceImageUrls")
            angle_keys = {a["angleKey"] for a in self.angles}
            color_keys = {c["colorKey"] for c in self.colors}
            angles, colors = body.get("angles"), body.get("colors", [])
            if not isinstance(angles, list) or not angles or any(a not in angle_keys for a in angles):
                return error(400, "ValidationFailed", "Pick at least one known angle", "angles")
            if not isinstance(colors, list) or any(c not in color_keys for c in colors):
                return error(400, "ValidationFailed", "Unknown colour", "colors")
            auto = body.get("autoColorize", True)
            if not isinstance(auto, bool):
                return error(400, "ValidationFailed", "autoColorize must be a boolean", "autoColorize")
            batch_id = await self._create_batch(angles, colors, auto, sources, broadcast=True)
            cells = self.batches[batch_id]["cells"]
            if self.early_update:
                # The first angle starts before our 202 answer reaches the page.
                await self._update_cell(batch_id, angles[0], None, "processing", True, None)
            if self.autoplay:
                asyncio.get_running_loop().create_task(self._autoplay_cells(batch_id, list(cells)))
            return JSONResponse(
                {"batchId": batch_id, "totalJobs": len(cells), "cells": [self._public(c) for c in cells.values()]},
                status_code=202,
            )

        async def get_batch(request: Request) -> Response:
            await self._record(request)
            if fault := self._fault("get_batch"):
                return fault
            batch = self.batches.get(request.path_params["batch_id"])
            if batch is None:
                return error(404, "NotFound", "Batch not found")
            return JSONResponse(self._snapshot(batch))

        async def colorize(request: Request) -> Response:
            body = await self._record(request)
            if fault := self._fault("colorize"):
                return fault
            batch = self.batches.get(request.path_params["batch_id"])
            if batch is None:
                return error(404, "NotFound", "Batch not found")
            colors = (body or {}).get("colors")
            color_keys = {c["colorKey"] for c in self.colors}
            if not isinstance(colors, list) or not colors or any(c not in color_keys for c in colors):
                return error(400, "ValidationFailed", "Pick at least one known colour", "colors")
            angles = (body or {}).get("angles") or batch["angles"]
            finished = [a for a in angles if batch["cells"].get((a, None), {}).get("status") == "completed"]
            if not finished:
                return error(409, "Conflict", "No finished angle to colorize yet", "angles")
            new_keys = []
            for a in finished:
                for c in colors:
                    if (a, c) not in batch["cells"]:
                        batch["cells"][(a, c)] = {
                            "type": "color",
                            "angleKey": a,
                            "colorKey": c,
                            "status": "queued",
                            "imageUrl": None,
                            "thumbUrl": None,
                            "error": None,
                        }
                        new_keys.append((a, c))
            for c in colors:
                if c not in batch["colors"]:
                    batch["colors"].append(c)
            if new_keys:
                batch["status"] = "running"
            for a, c in new_keys:
                await self._broadcast(
                    "marketplaceJobUpdated", {"batchId": batch["batchId"], "result": self._public(batch["cells"][(a, c)])}
                )
            if self.autoplay and new_keys:
                asyncio.get_running_loop().create_task(self._autoplay_cells(batch["batchId"], new_keys))
            return JSONResponse({"batchId": batch["batchId"], "totalJobs": len(batch["cells"])}, status_code=202)

        async def ws_ticket(request: Request) -> Response:
            await self._record(request)
            if fault := self._fault("ws_ticket"):
                return fault
            ticket = uuid.uuid4().hex
            self.tickets[ticket] = time.time() + 60
            self.tickets_issued += 1
            expires = datetime.fromtimestamp(self.tickets[ticket], UTC).isoformat().replace("+00:00", "Z")
            return JSONResponse({"ticket": ticket, "expiresAt": expires})

        async def gallery(request: Request) -> Response:
            await self._record(request)
            if fault := self._fault("gallery"):
                return fault
            start = int(request.query_params.get("nextToken") or 0)
            batch_filter = request.query_params.get("batchId")
            pool = [i for i in self.gallery if not batch_filter or i["batchId"] == batch_filter]
            size = int(request.query_params.get("limit") or self.gallery_page_size)
            size = min(size, self.gallery_page_size)
            items = pool[start : start + size]
            end = start + len(items)
            return JSONResponse({"items": items, "nextToken": str(end) if end < len(pool) else None})

        async def batch_list(request: Request) -> Response:
            """GET /batches: the batches this fake knows, newest first, plus those only its gallery names."""
            await self._record(request)
            ids = list(reversed(self.batches))
            ids += [b for b in dict.fromkeys(i["batchId"] for i in self.gallery) if b not in self.batches]
            items = []
            for batch_id in ids:
                batch = self.batches.get(batch_id)
                cells = list(batch["cells"].values()) if batch else []
                done = {s: sum(1 for c in cells if c["status"] == s) for s in ("completed", "failed", "canceled")}
                if not batch:
                    done["completed"] = sum(1 for i in self.gallery if i["batchId"] == batch_id)
                items.append({
                    "batchId": batch_id,
                    "createdAt": "2025-01-01T00:00:00.000Z",
                    "status": batch["status"] if batch else "completed",
                    "counts": {**done, "pending": max(len(cells) - sum(done.values()), 0)},
                    "thumbUrl": None,
                    "sourceUrl": (batch or {}).get("sourceImageUrls", [None])[0] if batch else None,
                    "cost": {"predictions": 0, "billedImages": done["completed"], "costUsd": 0},
                })
            return JSONResponse({"items": items, "nextToken": None})

        async def asset(request: Request) -> Response:
            p = request.path_params
            name = p["name"]
            thumb = name.endswith(".thumb.png")
            color = name.removesuffix(".png").removesuffix(".thumb")
            paint = self._paint_for(None if color == "angle" else color)
            png = render_car_png(paint, p["angle"], 384 if thumb else 960)
            return Response(png, media_type="image/png", headers={"Cache-Control": "max-age=3600"})

        async def websocket(ws: WebSocket) -> None:
            ticket = ws.query_params.get("ticket", "")
            if self.tickets.pop(ticket, 0) < time.time():
                await ws.close(code=1008)
                return
            await ws.accept()
            conn_id = uuid.uuid4().hex
            self.connections[conn_id] = ws
            self.connects += 1
            try:
                while True:
                    raw = await ws.receive_text()
                    try:
                        msg = json.loads(raw)
                    except ValueError:
                        continue
                    if msg.get("action") == "subscribe":
                        batch_id = msg.get("batchId")
                        self.subscribes.append(batch_id)
                        batch = self.batches.get(batch_id)
                        if batch and self.subscribe_sends_snapshot:
                            for cell in batch["cells"].values():
                                await ws.send_text(
                                    json.dumps(
                                        {
                                            "type": "marketplaceJobUpdated",
                                            "data": {"batchId": batch_id, "result": self._public(cell)},
                                        }
                                    )
                                )
            except (WebSocketDisconnect, RuntimeError):
                pass
            finally:
                self.connections.pop(conn_id, None)

        routes = [
            Route("/api/car/marketplace/config", config),
            Route("/api/car/marketplace/presets", presets),
            Route("/api/car/marketplace/uploads", uploads, methods=["POST"]),
            Route("/api/car/marketplace/batch", create_batch, methods=["POST"]),
            Route("/api/car/marketplace/batch/{batch_id}", get_batch),
            Route("/api/car/marketplace/batch/{batch_id}/colorize", colorize, methods=["POST"]),
            Route("/api/car/marketplace/ws-ticket", ws_ticket, methods=["POST"]),
            Route("/api/gallery", gallery),
            Route("/api/car/marketplace/batches", batch_list),
            Route("/fake-s3/uploads/{name}", s3_object, methods=["GET", "PUT"]),
            Route("/fake-assets/{batch_id}/{angle}/{name}", asset),
            WebSocketRoute(self.ws_path, websocket),
            Mount("/", StaticFiles(directory=self.web_dir, html=True)),
        ]
        return Starlette(routes=routes)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--autoplay", type=float, default=1.5, help="seconds per step; 0 to drive by hand")
    args = parser.parse_args()
    backend = FakeBackend(autoplay=args.autoplay or None).start(port=args.port)
    print(f"fake backend on {backend.base_url}/  (Ctrl-C to stop)")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        backend.stop()


if __name__ == "__main__":
    main()
