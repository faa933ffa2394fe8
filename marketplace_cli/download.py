"""`batch download`: every completed cell's image, `manifest.json` and `matrix.png`."""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from marketplace.archive import contact_sheet

from .client import ApiClient, ApiError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 64_000_000
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def safe_part(key: str) -> str:
    """A key as a file-name part (keys are `[A-Za-z0-9][A-Za-z0-9_-]*`; anything else is replaced)."""
    part = _UNSAFE.sub("_", key).lstrip(".")
    return part or "_"


def cell_filename(angle_key: str, color_key: str | None) -> str:
    if color_key:
        return f"{safe_part(angle_key)}__{safe_part(color_key)}.png"
    return f"{safe_part(angle_key)}.png"


@dataclass
class CellFile:
    type: str
    angleKey: str
    colorKey: str | None
    status: str
    file: str | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    colorCheck: dict[str, Any] | None = None  # a colour cell's check, as the snapshot gives it


@dataclass
class DownloadResult:
    out_dir: Path
    manifest_path: Path
    matrix_path: Path
    cells: list[CellFile] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        return [self.out_dir / c.file for c in self.cells if c.file]

    @property
    def failed(self) -> list[CellFile]:
        return [c for c in self.cells if c.status == "failed"]

    @property
    def unfinished(self) -> list[CellFile]:
        return [c for c in self.cells if c.status not in ("completed", "failed")]

    def exit_code(self) -> int:
        """0 every cell completed and saved, 2 a cell failed (or its image could not be saved), 1 unfinished."""
        if self.failed:
            return 2
        return 1 if self.unfinished else 0


def decode_png(data: bytes) -> tuple[bytes, Image.Image]:
    """The bytes to store (PNG as sent; other formats re-encoded to PNG) and the decoded image."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with Image.open(io.BytesIO(data)) as probe:
        probe.verify()
    image = Image.open(io.BytesIO(data))
    image.load()
    if data.startswith(PNG_MAGIC):
        return data, image
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue(), image


def build_manifest(snapshot: dict[str, Any], cells: list[CellFile], matrix: str | None = "matrix.png") -> dict[str, Any]:
    return {
        "batchId": snapshot.get("batchId"),
        "createdAt": snapshot.get("createdAt"),
        "status": snapshot.get("status"),
        "angles": list(snapshot.get("angles") or []),
        "colors": list(snapshot.get("colors") or []),
        "autoColorize": snapshot.get("autoColorize"),
        "totalJobs": snapshot.get("totalJobs"),
        "completedJobs": sum(1 for c in cells if c.status == "completed"),
        "failedJobs": sum(1 for c in cells if c.status == "failed"),
        "matrix": matrix,
        "cells": [
            {
                "type": c.type,
                "angleKey": c.angleKey,
                "colorKey": c.colorKey,
                "status": c.status,
                "file": c.file,
                "sha256": c.sha256,
                "width": c.width,
                "height": c.height,
                "error": c.error,
                **({"colorCheck": c.colorCheck} if c.colorKey else {}),
            }
            for c in cells
        ],
    }


def _ordered(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    angles = {a: i for i, a in enumerate(snapshot.get("angles") or [])}
    colors = {c: i for i, c in enumerate(snapshot.get("colors") or [])}
    big = 1 << 30

    def key(cell: dict[str, Any]) -> tuple[int, str, int, int]:
        color = cell.get("colorKey")
        return (angles.get(cell["angleKey"], big), cell["angleKey"], 0 if not color else 1, colors.get(color, big))

    return sorted((c for c in snapshot.get("cells") or [] if isinstance(c, dict) and "angleKey" in c), key=key)


def download_batch(
    api: ApiClient,
    batch_id: str,
    out_dir: str | Path | None = None,
    *,
    snapshot: dict[str, Any] | None = None,
    presets: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    workers: int = 6,
) -> DownloadResult:
    """GET the snapshot, save each completed image, write manifest.json and matrix.png."""
    snapshot = snapshot or api.get_batch(batch_id)
    if presets is None:
        try:
            presets = api.presets()
        except ApiError as exc:
            if log:
                log(f"presets unavailable ({exc}); labels fall back to keys")
            presets = None
    target = Path(out_dir) if out_dir else Path("out") / safe_part(batch_id)
    target.mkdir(parents=True, exist_ok=True)

    cells = [
        CellFile(
            c.get("type") or ("color" if c.get("colorKey") else "angle"),
            c["angleKey"],
            c.get("colorKey") or None,
            c.get("status", "queued"),
            error=c.get("error"),
            colorCheck=c.get("colorCheck") if isinstance(c.get("colorCheck"), dict) else None,
        )
        for c in _ordered(snapshot)
    ]
    urls = {(c["angleKey"], c.get("colorKey") or None): c.get("imageUrl") for c in _ordered(snapshot)}
    images: dict[tuple[str, str | None], Image.Image] = {}

    def fetch(cell: CellFile) -> None:
        url = urls.get((cell.angleKey, cell.colorKey))
        if not url:
            cell.status, cell.error = "failed", "completed without an imageUrl"
            return
        try:
            data, image = decode_png(api.download(url))
        except ApiError as exc:
            cell.status, cell.error = "failed", f"download failed: {exc}"
            return
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            cell.status, cell.error = "failed", f"not a usable image: {exc}"
            return
        name = cell_filename(cell.angleKey, cell.colorKey)
        (target / name).write_bytes(data)
        cell.file, cell.sha256 = name, hashlib.sha256(data).hexdigest()
        cell.width, cell.height = image.size
        images[(cell.angleKey, cell.colorKey)] = image

    completed = [c for c in cells if c.status == "completed"]
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(completed) or 1))) as pool:
        list(pool.map(fetch, completed))

    sheet_snapshot = {
        **snapshot,
        "cells": [
            {"type": c.type, "angleKey": c.angleKey, "colorKey": c.colorKey, "status": c.status, "error": c.error,
             "colorCheck": c.colorCheck}
            for c in cells
        ],
    }
    sheet = contact_sheet.build_sheet(
        sheet_snapshot,
        presets,
        images,
        footer="Car Marketplace · rows: angles · columns: the studio angle, then each paint colour · "
               "badge: the paint measured against the colour asked for (CIEDE2000)",
    )
    matrix_path = target / "matrix.png"
    sheet.save(matrix_path, "PNG", optimize=True)
    manifest_path = target / "manifest.json"
    manifest_path.write_text(json.dumps(build_manifest(snapshot, cells), indent=2, ensure_ascii=False) + "\n")
    return DownloadResult(target, manifest_path, matrix_path, cells)
