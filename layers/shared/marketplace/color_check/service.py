"""The colour check on the webhook's path: a completing colour cell's output (its thumbnail, made
already) against the angle image it was fed (that image's stored thumbnail), bounded in time.

The fed image is the one RunPrediction handed over: its key is in the cell's ``imageInput`` URL
(``batches/{batchId}/{angleKey}/angle[.n].png``, whatever signed it), so a later attempt of the
angle never stands in for the one this colour was made from. An input that names no key (a
Replicate file URL, ``REPLICATE_INPUT_HANDOVER=files``) falls back to the angle cell's thumbnail.
The fed image is read and decoded once per warm container: an angle's colour cells (up to 40)
complete close together and share it, and a stored key never changes content (a new attempt has
a new key), so the decoded, shrunk picture is kept (``FED_IMAGES_KEPT``), and concurrent readers
of one key wait for one read. The target is the colour's prompt value frozen on the cell (older
cells: the hex in their prompt). Whatever goes wrong (an S3 error, an unreadable image, a check
slower than ``CHECK_SECONDS``) the answer is ``unknown`` and a warning is logged: the cell
completes all the same.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ..aws import s3_client
from ..config import get_settings
from ..domain import Cell
from ..domain import ColorCheck as StoredCheck
from ..observability import logger
from ..repository import get_repository
from .measure import UNKNOWN, ColorCheck, check_color, open_small

if TYPE_CHECKING:
    from PIL import Image

CHECK_SECONDS = 1.0
"""The whole check (the fed thumbnail's S3 read and the measuring, ~10 ms) at most: its share of
the webhook's budget (``webhook_delivery.WEBHOOK_BUDGET_SECONDS``)."""
MAX_FED_BYTES = 8 * 1024 * 1024  # a stored thumbnail is ≤ 512 px: far under this
FED_IMAGES_KEPT = 48
"""Decoded fed images kept (≤ 160 px, ~60 KB each): the angles whose colours are completing."""

# As outputs' pool: one worker per delivery checking at the same time; threads start when needed.
_pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="colorcheck")
_HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})(?![0-9a-zA-Z])")


def fed_thumb_key(cell: Cell) -> str | None:
    """The stored thumbnail of the angle image this colour cell was fed, from its ``imageInput``."""
    if not cell.imageInput:
        return None
    path = unquote(urlsplit(cell.imageInput[0]).path)
    stem = re.escape(f"batches/{cell.batchId}/{cell.angleKey}/angle")
    found = re.search(stem + r"((?:\.\d+)?)\.png$", path)
    return f"batches/{cell.batchId}/{cell.angleKey}/angle{found.group(1)}.thumb.png" if found else None


def target_text(cell: Cell) -> str | None:
    """What names the target: the colour's prompt value; a cell from before it was kept, the hex
    in its prompt (a colour name in the whole prompt is ambiguous: the template names "black trim")."""
    if cell.promptValue:
        return cell.promptValue
    found = _HEX.search(cell.prompt or "")
    return found.group(0) if found else None


def _angle_thumb_key(cell: Cell) -> str | None:
    angle = get_repository().get_cell(cell.batchId, cell.angleKey, None)
    return angle.thumbKey if angle else None


class FedImages:
    """Decoded fed thumbnails by S3 key, least recently used dropped past ``kept``; a read that
    fails is not kept (the next cell tries again)."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._lock = threading.Lock()
        self._reads: OrderedDict[str, Future[Image.Image | None]] = OrderedDict()

    def get(self, key: str) -> Image.Image | None:
        with self._lock:
            read = self._reads.get(key)
            mine = read is None
            if read is None:
                read = self._reads[key] = Future()
                while len(self._reads) > self.kept:
                    self._reads.popitem(last=False)
            else:
                self._reads.move_to_end(key)
        if mine:
            try:
                read.set_result(_read_small(key))
            except BaseException as error:
                read.set_exception(error)
        try:
            return read.result()
        except BaseException:
            with self._lock:
                if self._reads.get(key) is read:
                    del self._reads[key]
            raise

    def cache_clear(self) -> None:  # the name functools' caches use: resets find it
        with self._lock:
            self._reads.clear()


_fed_images = FedImages(FED_IMAGES_KEPT)


def _read_small(key: str) -> Image.Image | None:
    answer = s3_client().get_object(Bucket=get_settings().bucket_name, Key=key)
    if int(answer.get("ContentLength") or 0) > MAX_FED_BYTES:
        return None
    return open_small(bytes(answer["Body"].read(MAX_FED_BYTES + 1))[:MAX_FED_BYTES])


def _fed_image(cell: Cell) -> Image.Image | None:
    try:
        key = fed_thumb_key(cell) or _angle_thumb_key(cell)
        if key is None:
            logger.info("colour check without the fed image: the angle has no thumbnail")
            return None
        return _fed_images.get(key)
    except Exception as error:  # measured without it (the border fallback)
        logger.warning("colour check: the fed image could not be read", extra={"error": type(error).__name__})
        return None


def read_fed_image(cell: Cell) -> Future[Image.Image | None]:
    """Starts reading the fed thumbnail: the webhook starts it before storing the output, so the
    read overlaps the download, thumbnail and puts instead of following them."""
    return _pool.submit(_fed_image, cell)


def check_cell(cell: Cell, output_thumb: bytes | Image.Image, fed: Future[Image.Image | None] | None = None) -> StoredCheck:
    """The colour check of a completing colour cell (``fed``: its ``read_fed_image``, else read
    now); never raises."""
    started = time.perf_counter()
    try:
        fed = fed if fed is not None else read_fed_image(cell)
        fed_image = fed.result(timeout=CHECK_SECONDS)
        remaining = max(0.0, CHECK_SECONDS - (time.perf_counter() - started))
        future = _pool.submit(check_color, target_text(cell), output_thumb, fed_image,
                              get_settings().color_check_max_delta_e)
        result = future.result(timeout=remaining)
    except FutureTimeout:
        result = ColorCheck(None, None, None, UNKNOWN, f"the check took longer than {CHECK_SECONDS:g} s")
    except Exception as error:  # a check never fails a delivery
        logger.exception("colour check failed")
        result = ColorCheck(None, None, None, UNKNOWN, f"check failed: {type(error).__name__}")
    elapsed_ms = round((time.perf_counter() - started) * 1000, 1)
    details = {**result.as_view(), "ms": elapsed_ms}
    if result.reason:
        logger.warning("colour check unknown", extra={**details, "reason": result.reason})
    else:
        logger.info("colour checked", extra=details)
    return StoredCheck.model_validate(result.as_view())
