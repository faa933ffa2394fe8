"""How this stack's own objects (a batch's uploads, an angle's stored PNG) reach Replicate.

``REPLICATE_INPUT_HANDOVER=url`` (the deployed product): a presigned GET, signed as it is handed
over (``urls.HANDOVER_URL_SECONDS``). ``files`` (the local stack with a real Replicate): the
object is read from S3 and uploaded through Replicate's Files API with the official client
(``predictions.upload_file``), and the input names the file's URL: a laptop's S3 is on an address
Replicate cannot reach, and nothing on the laptop is opened to the internet.

Why the Files API and not data URIs: a prediction echoes its input in every answer (the poll
would download the photos again on every look), the cell keeps the input it was given
(``imageInput``: DynamoDB items stop at 400 KB, three photos are megabytes) and Replicate
recommends data URIs only for small files.

Each object is uploaded once per content (S3 key + ETag) while its file is good for another hour
(Replicate keeps files 24 h): the angles of a batch share its photos, the colours of an angle its
PNG. Concurrent hand-overs of one object wait for the first upload instead of repeating it, and
an angle's photos are uploaded side by side (``each``).
"""

from __future__ import annotations

import mimetypes
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath

from . import predictions
from .aws import s3_client
from .config import get_settings
from .errors import ValidationFailed
from .observability import logger
from .urls import HANDOVER_URL_SECONDS, object_url

# The largest object handed over: an upload (uploads.MAX_UPLOAD_BYTES) or an output.
MAX_HANDOVER_BYTES = 30 * 1024 * 1024
# A file is reused while it stays good this long after the prediction starts (as a presigned URL).
REUSE_MARGIN_SECONDS = HANDOVER_URL_SECONDS
FILE_LIFETIME_SECONDS = 24 * 3600  # when Replicate does not say
CACHE_SIZE = 1024
UPLOAD_WAIT_SECONDS = 60.0
PARALLEL_UPLOADS = 4

_lock = threading.Lock()
_files: OrderedDict[tuple[str, str, str], predictions.UploadedFile] = OrderedDict()
_uploading: dict[tuple[str, str, str], threading.Event] = {}


def object_input(key: str) -> str:
    """What a prediction's input names for the stored object ``key``."""
    if get_settings().replicate_input_handover != "files":
        return object_url(key, expires_in=HANDOVER_URL_SECONDS)
    return _file_url(key)


def each(hand_over: Callable[[str], str], items: Sequence[str]) -> list[str]:
    """``hand_over`` of every item, in order; side by side when they are uploads (each waits on
    Replicate's answer, not on this CPU)."""
    if len(items) < 2 or get_settings().replicate_input_handover != "files":
        return [hand_over(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_UPLOADS, len(items)), thread_name_prefix="handover") as pool:
        return list(pool.map(hand_over, items))


def reset() -> None:
    """Tests: forget the uploaded files."""
    with _lock:
        _files.clear()
        _uploading.clear()


def _file_url(key: str) -> str:
    bucket = get_settings().bucket_name
    s3 = s3_client()
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            raise ValidationFailed(f"the image {PurePosixPath(key).name} no longer exists", field="imageInput") from None
        raise
    size = int(head.get("ContentLength") or 0)
    if size > MAX_HANDOVER_BYTES:
        raise ValidationFailed(f"the image {PurePosixPath(key).name} is larger than {MAX_HANDOVER_BYTES} bytes",
                               field="imageInput")
    ident = (bucket, key, str(head.get("ETag") or ""))
    while True:
        with _lock:
            cached = _files.get(ident)
            if cached is not None and _fresh(cached):
                _files.move_to_end(ident)
                return cached.url
            waiting = _uploading.get(ident)
            if waiting is None:
                mine = _uploading[ident] = threading.Event()
                break
        if not waiting.wait(UPLOAD_WAIT_SECONDS):
            mine = threading.Event()  # the first upload is stuck: make our own
            break
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read(MAX_HANDOVER_BYTES + 1)
        content_type = str(head.get("ContentType") or "") or mimetypes.guess_type(key)[0] or "application/octet-stream"
        uploaded = predictions.upload_file(body[:MAX_HANDOVER_BYTES], PurePosixPath(key).name, content_type)
        if uploaded.expires_at is None:
            uploaded = predictions.UploadedFile(uploaded.url, time.time() + FILE_LIFETIME_SECONDS)
        with _lock:
            _files[ident] = uploaded
            while len(_files) > CACHE_SIZE:
                _files.popitem(last=False)
        logger.info("input handed over through Replicate's Files API", extra={"bytes": len(body)})
        return uploaded.url
    finally:
        with _lock:
            if _uploading.get(ident) is mine:
                del _uploading[ident]
        mine.set()


def _fresh(uploaded: predictions.UploadedFile) -> bool:
    return (uploaded.expires_at or 0.0) - time.time() > REUSE_MARGIN_SECONDS
