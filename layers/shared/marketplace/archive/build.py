"""The builder Lambda's one call: a batch's ZIP, streamed from S3 to S3 in bounded memory.

1. The row must still name this build (`store.ArchiveRows`); an old or repeated event stops here.
2. `matrix.png`: the contact sheet (`contact_sheet`, the CLI's own) drawn from the stored
   thumbnails, fetched a few at a time as their tile comes up, encoded to a temporary file (the
   canvas is freed before the ZIP starts; a 30 x 40 sheet is 13,940 x 7,808 pixels).
3. The ZIP (`zipstream`): every completed cell's PNG under `{angle label}/{colour label}.png`
   (`names`), read in chunks a few objects ahead, written ZIP_STORED through a multipart upload
   to `batches/{batchId}/archive/{buildId}.zip`; then `matrix.png`; then `manifest.json`.
4. The row becomes `ready` (only if it still names this build), the previous ZIP is deleted and
   the owner's pages get `marketplaceArchiveReady {batchId, url}`. Any error: `failed` with why.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import IO, Any

from .. import keys
from ..aws import s3_client
from ..config import get_settings
from ..domain import Batch, Cell
from ..notifier import get_notifier
from ..observability import bind_batch, logger
from ..repository import get_repository, now_iso
from ..statuses import CellStatus
from ..store.table import values
from ..views import ARCHIVE_READY
from . import zipstream
from .manifest import CellEntry, build_manifest
from .names import MANIFEST, MATRIX, ArchiveNames
from .service import archive_url, download_name
from .store import ArchiveRows, ArchiveStatus

CellKey = tuple[str, str | None]
THUMB_WORKERS = 8
SHEET_FOOTER = "Car Marketplace · rows: angles · columns: the studio angle, then each paint colour"


def build_archive(batch_id: str, build_id: str) -> dict[str, Any]:
    bind_batch(batch_id)
    repo = get_repository()
    rows = ArchiveRows(repo.table)
    record = rows.get(batch_id)
    if record is None or record.buildId != build_id or record.status != ArchiveStatus.BUILDING:
        logger.info("archive build superseded or already settled", extra={"build_id": build_id})
        return {"status": "skipped"}
    previous_key = record.objectKey
    started = time.monotonic()
    try:
        built = _build(batch_id, build_id)
    except Exception as error:
        logger.exception("archive build failed", extra={"build_id": build_id})
        rows.fail(batch_id, build_id, f"the archive could not be built: {type(error).__name__}: {error}", now_iso())
        return {"status": str(ArchiveStatus.FAILED)}
    object_key, size, images = built
    if not rows.finish(batch_id, build_id, object_key, size, images, now_iso()):
        logger.info("archive build superseded while it ran", extra={"build_id": build_id})
        _delete(object_key)
        return {"status": "skipped"}
    if previous_key and previous_key != object_key:
        _delete(previous_key)
    logger.info("archive ready", extra={"build_id": build_id, "bytes": size, "images": images,
                                        "seconds": round(time.monotonic() - started, 2)})
    get_notifier().push_to_owner(record.owner, ARCHIVE_READY, {"batchId": batch_id, "url": archive_url(object_key, batch_id)})
    return {"status": str(ArchiveStatus.READY), "bytes": size, "images": images}


def _delete(object_key: str) -> None:
    try:
        s3_client().delete_object(Bucket=get_settings().bucket_name, Key=object_key)
    except Exception:
        logger.warning("old archive not deleted", extra={"object_key": object_key})


def _load(batch_id: str) -> tuple[Batch, dict[str, Any], list[tuple[Cell, dict[str, Any]]]]:
    """The batch and its cells with their raw rows (attempt and cost figures ride there)."""
    table = get_repository().table
    batch_raw = table.get(keys.batch_key(batch_id))
    if not batch_raw:
        raise LookupError(f"batch {batch_id} not found")
    batch = Batch.model_validate(batch_raw)
    items = table.query(
        KeyConditionExpression="PK = :pk AND begins_with(SK, :cell)",
        ExpressionAttributeValues=values(pk=keys.batch_pk(batch_id), cell=keys.CELL_PREFIX),
        ConsistentRead=True,
    )
    cells = [(Cell.model_validate(item), item) for item in items]
    angle_rank = {a: i for i, a in enumerate(batch.angles)}
    color_rank = {c: i for i, c in enumerate(batch.colors)}
    cells.sort(key=lambda pair: (angle_rank.get(pair[0].angleKey, 1 << 30), pair[0].angleKey,
                                 -1 if not pair[0].colorKey else color_rank.get(pair[0].colorKey, 1 << 30),
                                 pair[0].colorKey or ""))
    return batch, batch_raw, cells


def _labels(batch: Batch) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Angle labels, colour labels and colour prompt values from the sheets (keys if unreadable)."""
    try:
        from ..presets import get_presets

        presets = get_presets()
    except Exception as error:
        logger.warning("presets unavailable, archive labelled with keys", extra={"error": str(error)})
        return {}, {}, {}
    angles = {a: p.angle_label for a in batch.angles if (p := presets.angle(a)) and p.angle_label}
    colors = {c: q.color_label for c in batch.colors if (q := presets.color(c)) and q.color_label}
    prompts = {c: q.prompt_value for c in batch.colors if (q := presets.color(c))}
    return angles, colors, prompts


class Thumbnails(Mapping[CellKey, Any]):
    """The matrix's images, fetched when the sheet asks (rows, then columns) and a few ahead,
    each shrunk to its tile in the fetching thread; nothing is kept once handed out."""

    def __init__(self, bucket: str, object_keys: dict[CellKey, str], order: list[CellKey],
                 tile: tuple[int, int], workers: int = THUMB_WORKERS) -> None:
        self._bucket, self._keys, self._tile = bucket, object_keys, tile
        self._order = [key for key in order if key in object_keys]
        self._index = {key: i for i, key in enumerate(self._order)}
        self._pending: dict[CellKey, Future[Any]] = {}
        self._next = 0
        self._workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="matrix-thumb")

    def __getitem__(self, key: CellKey) -> Any:
        image = self.get(key)
        if image is None:
            raise KeyError(key)
        return image

    def get(self, key: CellKey, default: Any = None) -> Any:
        if key not in self._keys:
            return default
        position = self._index.get(key, 0)
        while self._next < len(self._order) and self._next <= position + 2 * self._workers:
            ahead = self._order[self._next]
            self._pending.setdefault(ahead, self._pool.submit(self._fetch, self._keys[ahead]))
            self._next += 1
        future = self._pending.pop(key, None) or self._pool.submit(self._fetch, self._keys[key])
        try:
            return future.result()
        except Exception as error:
            logger.warning("matrix tile unreadable", extra={"object_key": self._keys[key], "error": str(error)})
            return default

    def _fetch(self, object_key: str) -> Any:
        from PIL import Image

        data = s3_client().get_object(Bucket=self._bucket, Key=object_key)["Body"].read()
        with Image.open(io.BytesIO(data)) as opened:
            image = opened.convert("RGB")
        image.thumbnail(self._tile)
        return image

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __iter__(self) -> Iterator[CellKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def render_matrix(batch: Batch, cells: list[Cell], angle_labels: dict[str, str], color_labels: dict[str, str],
                  prompt_values: dict[str, str], out: IO[bytes]) -> None:
    """The contact sheet (the CLI's `matrix.png`) as PNG into `out`."""
    from . import contact_sheet

    snapshot = {
        "batchId": batch.batchId, "createdAt": batch.createdAt, "angles": batch.angles, "colors": batch.colors,
        "cells": [{"angleKey": c.angleKey, "colorKey": c.colorKey, "status": str(c.status), "error": c.error,
                   "colorCheck": c.colorCheck.model_dump(mode="json") if c.colorCheck else None}
                  for c in cells],
    }
    presets = {
        "angles": [{"angleKey": a, "angleLabel": angle_labels.get(a, a)} for a in batch.angles],
        "colors": [{"colorKey": c, "colorLabel": color_labels.get(c, c), "promptValue": prompt_values.get(c, "")}
                   for c in batch.colors],
    }
    object_keys = {(c.angleKey, c.colorKey): key for c in cells
                   if c.status == CellStatus.COMPLETED and (key := c.thumbKey or c.imageKey)}
    order = [(a, color) for a in batch.angles for color in [None, *batch.colors]]
    thumbnails = Thumbnails(get_settings().bucket_name, object_keys, order,
                            (contact_sheet.CELL_W, contact_sheet.CELL_H))
    try:
        sheet = contact_sheet.build_sheet(snapshot, presets, thumbnails, footer=SHEET_FOOTER)
    finally:
        thumbnails.close()
    sheet.save(out, "PNG")  # zlib's default level: optimize=True costs minutes on a 30 x 40 sheet
    sheet.close()


def _cost(cells: list[Cell]) -> dict[str, Any] | None:
    """The snapshot's cost figures (``{predictions, billedImages, costUsd}``)."""
    from ..batches import batch_cost

    return batch_cost(cells, get_settings().price_per_image_usd)


def _file_chunks(handle: IO[bytes]) -> Callable[[], Iterator[bytes]]:
    def chunks() -> Iterator[bytes]:
        handle.seek(0)
        while chunk := handle.read(zipstream.CHUNK_BYTES):
            yield chunk
    return chunks


def _zip_time(moment: str | None, fallback: datetime) -> tuple[int, int, int, int, int, int]:
    try:
        when = datetime.fromisoformat((moment or "").replace("Z", "+00:00"))
    except ValueError:
        when = fallback
    when = max(when, datetime(1980, 1, 1, tzinfo=UTC))
    return (when.year, when.month, when.day, when.hour, when.minute, when.second)


def _build(batch_id: str, build_id: str) -> tuple[str, int, int]:
    settings = get_settings()
    s3 = s3_client()
    batch, batch_raw, pairs = _load(batch_id)
    cells = [cell for cell, _ in pairs]
    angle_labels, color_labels, prompt_values = _labels(batch)
    names = ArchiveNames([(a, angle_labels.get(a, a)) for a in batch.angles],
                         [(c, color_labels.get(c, c)) for c in batch.colors])
    entries = [CellEntry(cell, raw) for cell, raw in pairs]
    zipped = [e for e in entries if e.cell.status == CellStatus.COMPLETED and e.cell.imageKey]
    for entry in entries:
        if entry.cell.status == CellStatus.COMPLETED and not entry.cell.imageKey:
            entry.error = "completed without a stored image"
    now = datetime.now(UTC)
    built_at = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    object_key = keys.archive_object_key(batch_id, build_id)
    with tempfile.TemporaryFile(prefix="matrix-", suffix=".png") as matrix:
        started = time.monotonic()
        render_matrix(batch, cells, angle_labels, color_labels, prompt_values, matrix)
        matrix_bytes = matrix.tell()
        logger.info("matrix drawn", extra={"bytes": matrix_bytes, "seconds": round(time.monotonic() - started, 2)})
        sink = zipstream.S3MultipartSink(s3, settings.bucket_name, object_key,
                                         content_disposition=f'attachment; filename="{download_name(batch_id)}"')
        try:
            stats = zipstream.ZipStats()
            with zipstream.open_zip(sink) as archive:
                reader = zipstream.ObjectChunks(s3, settings.bucket_name, [str(e.cell.imageKey) for e in zipped])
                for entry, (_, size, chunks) in zip(zipped, reader, strict=True):
                    if isinstance(chunks, zipstream.ObjectMissing):
                        logger.warning("cell image unreadable, left out", extra={"error": str(chunks)})
                        entry.error = "the stored image could not be read"
                        continue
                    name = names.path(entry.cell.angleKey, entry.cell.colorKey)
                    zipstream.add_entry(archive, zipstream.Entry(name, lambda c=chunks: c, size,  # type: ignore[misc]
                                                                 _zip_time(entry.cell.completedAt, now)), stats)
                    entry.file, entry.bytes = name, size
                zipstream.add_entry(archive, zipstream.Entry(MATRIX, _file_chunks(matrix), matrix_bytes,
                                                             _zip_time(built_at, now)), stats)
                manifest = build_manifest(batch, batch_raw, entries, angle_labels, color_labels,
                                          built_at=built_at, matrix=MATRIX, cost=_cost(cells))
                body = json.dumps(manifest, indent=2, ensure_ascii=False).encode() + b"\n"
                zipstream.add_entry(archive, zipstream.Entry(MANIFEST, lambda: [body], len(body),
                                                             _zip_time(built_at, now)), stats)
            size = sink.complete()
        except BaseException:
            sink.abort()
            raise
    images = sum(1 for e in zipped if e.file)
    logger.info("archive written", extra={"bytes": size, "entries": stats.entries, "parts": sink.parts})
    return object_key, size, images
