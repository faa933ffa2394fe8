"""Persist one prediction output: bounded download, PNG check, thumbnail, two S3 puts.

Replicate deletes outputs after an hour, so the webhook persists at once. The output is a single
URI: a ``data:`` URI or an URL on ``replicate.delivery`` / ``*.replicate.delivery`` (https) or on
one of ``REPLICATE_OUTPUT_HOSTS`` (host[:port], http allowed: the local stand-in). Anything else,
anything that is not a PNG, too large or a decompression bomb is ``OutputRejected`` (the cell
fails with that reason). A network fault or a 5xx is ``OutputUnavailable``: retryable, the cell
stays open (the webhook answers 500 so Replicate retries; the reconciler polls later).
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import requests
from PIL import Image

from .aws import s3_client
from .config import get_settings
from .errors import ValidationFailed

# Every output is a PNG: Pillow's codecs are registered at init, not by a webhook's first check
# (about 10 ms of imports, ~100 ms when a cold container's concurrent webhooks all waited on them).
Image.preinit()

MAX_OUTPUT_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 40_000_000
THUMB_MAX_SIDE = 512
# The webhook must answer inside API Gateway's 30 s integration timeout (see
# webhook_delivery.WEBHOOK_BUDGET_SECONDS): a download may take at most its deadline plus one read.
CONNECT_TIMEOUT_SECONDS = 3.0
READ_TIMEOUT_SECONDS = 4.0
DOWNLOAD_DEADLINE_SECONDS = 8.0
MAX_REDIRECTS = 3
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPLICATE_DELIVERY = "replicate.delivery"
_CHUNK = 256 * 1024


class OutputRejected(ValidationFailed):
    """The output can never be persisted (host, format, size): the cell fails with this reason."""

    code = "output_rejected"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="output")


class OutputUnavailable(Exception):
    """The output could not be fetched right now (network, timeout, 5xx): try again later."""


@dataclass(frozen=True)
class PersistedOutput:
    image_key: str
    thumb_key: str
    thumbnail: Image.Image = field(repr=False)  # the stored thumbnail, decoded: the colour check measures it
    timings: dict[str, float] = field(default_factory=dict)
    width: int = 0
    height: int = 0
    size_bytes: int = 0


_session_local = threading.local()
# One worker per invocation that is persisting at the same time: on Lambda that is one, but the
# local stack runs every invocation of a function in one process, and a webhook burst must not
# queue each full-PNG upload behind other invocations' uploads. Threads start only when needed;
# 64 matches the S3 client's connection pool (aws.py), past which uploads would wait anyway.
_PUT_WORKERS = 64
_pool = ThreadPoolExecutor(max_workers=_PUT_WORKERS, thread_name_prefix="s3put")


def _session() -> requests.Session:
    session = getattr(_session_local, "session", None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials for untrusted URLs
        _session_local.session = session
    return session


def _stem(batch_id: str, angle_key: str, color_key: str | None, attempt: int) -> str:
    """Every attempt keeps its own image (the gallery lists them all); the first keeps the plain name."""
    name = color_key or "angle"
    return f"batches/{batch_id}/{angle_key}/{name if attempt <= 1 else f'{name}.{attempt}'}"


def image_key_for(batch_id: str, angle_key: str, color_key: str | None, attempt: int = 1) -> str:
    return f"{_stem(batch_id, angle_key, color_key, attempt)}.png"


def thumb_key_for(batch_id: str, angle_key: str, color_key: str | None, attempt: int = 1) -> str:
    return f"{_stem(batch_id, angle_key, color_key, attempt)}.thumb.png"


# ----- where an output may come from ------------------------------------------------------


def _netloc(parts: Any) -> tuple[str, int]:
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        raise OutputRejected("output URL has an invalid port") from None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return host, port


def _extra_host_allowed(host: str, port: int, allowed: tuple[str, ...]) -> bool:
    for entry in allowed:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry.startswith("[") or entry.count(":") == 1:
            name, _, entry_port = entry.rpartition(":")
            if name.strip("[]") == host and entry_port == str(port):
                return True
        elif entry == host:
            return True
    return False


def check_output_url(url: str) -> None:
    """Raises OutputRejected unless ``url`` is an output host we trust."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise OutputRejected("output URL must not carry credentials")
    if parts.scheme not in ("https", "http"):
        raise OutputRejected(f"output URL scheme {parts.scheme or '(none)'!r} is not allowed")
    host, port = _netloc(parts)
    if not host:
        raise OutputRejected("output URL has no host")
    if _extra_host_allowed(host, port, get_settings().replicate_output_hosts):
        return
    if parts.scheme == "https" and (host == REPLICATE_DELIVERY or host.endswith("." + REPLICATE_DELIVERY)):
        return
    raise OutputRejected(f"output host {host!r} is not an allowed Replicate output host")


# ----- fetching ---------------------------------------------------------------------------


def _decode_data_uri(uri: str) -> bytes:
    header, sep, payload = uri[5:].partition(",")
    if not sep:
        raise OutputRejected("data URI has no payload")
    params = [p.strip().lower() for p in header.split(";")]
    if params and params[0] and params[0] != "image/png":
        raise OutputRejected(f"data URI media type {params[0]!r} is not image/png")
    if "base64" in params[1:]:
        if len(payload) * 3 // 4 > MAX_OUTPUT_BYTES:
            raise OutputRejected(f"output is larger than {MAX_OUTPUT_BYTES} bytes")
        try:
            return base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise OutputRejected("data URI is not valid base64") from None
    data = unquote_to_bytes(payload)
    if len(data) > MAX_OUTPUT_BYTES:
        raise OutputRejected(f"output is larger than {MAX_OUTPUT_BYTES} bytes")
    return data


def _download(url: str) -> bytes:
    deadline = time.monotonic() + DOWNLOAD_DEADLINE_SECONDS
    for _ in range(MAX_REDIRECTS + 1):
        check_output_url(url)
        session = _session()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OutputUnavailable("output download exceeded its deadline")
        try:
            response = session.get(
                url,
                stream=True,
                allow_redirects=False,
                timeout=(min(CONNECT_TIMEOUT_SECONDS, remaining), min(READ_TIMEOUT_SECONDS, remaining)),
                headers={"Accept": "image/png"},
            )
        except requests.Timeout:
            raise OutputUnavailable("timed out downloading the output") from None
        except requests.RequestException as error:
            raise OutputUnavailable(f"could not download the output: {type(error).__name__}") from None
        with response:
            if response.is_redirect:
                location = response.headers.get("location", "")
                target = urljoin(url, location)
                if urlsplit(target).netloc.lower() != urlsplit(url).netloc.lower():
                    raise OutputRejected("output URL redirects to another host")
                url = target
                continue
            if response.status_code >= 500 or response.status_code in (408, 429):
                raise OutputUnavailable(f"output host answered {response.status_code}")
            if response.status_code != 200:
                raise OutputRejected(f"output URL answered {response.status_code}")
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > MAX_OUTPUT_BYTES:
                raise OutputRejected(f"output is larger than {MAX_OUTPUT_BYTES} bytes")
            buffer = bytearray()
            try:
                for chunk in response.iter_content(_CHUNK):
                    buffer += chunk
                    if len(buffer) > MAX_OUTPUT_BYTES:
                        raise OutputRejected(f"output is larger than {MAX_OUTPUT_BYTES} bytes")
                    if time.monotonic() > deadline:
                        raise OutputUnavailable("output download exceeded its deadline")
            except requests.RequestException as error:
                raise OutputUnavailable(f"output download broke off: {type(error).__name__}") from None
            return bytes(buffer)
    raise OutputRejected("output URL redirects too often")


def fetch_output(output: Any) -> bytes:
    """The bytes of a single output (a URI or a one-element list of one); anything else is rejected."""
    if isinstance(output, list):
        if len(output) != 1:
            raise OutputRejected(f"expected one output, got {len(output)}")
        output = output[0]
    if not isinstance(output, str) or not output.strip():
        raise OutputRejected("output is not a URI")
    uri = output.strip()
    if uri[:5].lower() == "data:":
        return _decode_data_uri(uri)
    return _download(uri)


# ----- checking and shrinking -------------------------------------------------------------


def check_png(data: bytes) -> tuple[int, int]:
    """(width, height) of a valid PNG within MAX_PIXELS; the size is read before any decoding."""
    if not data.startswith(PNG_SIGNATURE):
        raise OutputRejected("output is not a PNG")
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            width, height = image.size
            if width <= 0 or height <= 0 or width * height > MAX_PIXELS:
                raise OutputRejected(f"output is {width}x{height} pixels (limit {MAX_PIXELS})")
            image.verify()
    except OutputRejected:
        raise
    except Image.DecompressionBombError:
        raise OutputRejected(f"output exceeds {MAX_PIXELS} pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise OutputRejected(f"output is not a valid PNG: {type(error).__name__}") from None
    return width, height


def make_thumbnail(data: bytes) -> bytes:
    """A PNG at most THUMB_MAX_SIDE on its longest side (aspect kept)."""
    return thumbnail_of(data)[0]


def thumbnail_of(data: bytes) -> tuple[bytes, Image.Image]:
    """The thumbnail PNG and the decoded picture it encodes (the colour check measures that picture
    rather than decoding the PNG again)."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as image:
            # reducing_gap=1: integer box reduction first, then bilinear for the rest: ~2x faster
            # than a full-size bilinear pass and as smooth (the box filter averages every pixel).
            image.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE), Image.Resampling.BILINEAR, reducing_gap=1.0)
            small: Image.Image = image
            if small.mode not in ("RGB", "RGBA", "L", "LA"):
                small = small.convert("RGBA" if "transparency" in small.info else "RGB")
            buffer = io.BytesIO()
            # zlib level 1 with the RLE strategy (Z_RLE): the fastest encode measured, and smaller
            # than plain level 1-3 on photos after PNG's row filters.
            small.save(buffer, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
            return buffer.getvalue(), small
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as error:
        raise OutputRejected(f"output is not a decodable PNG: {type(error).__name__}") from None


# ----- persisting -------------------------------------------------------------------------


def _put(key: str, body: bytes) -> None:
    s3_client().put_object(
        Bucket=get_settings().bucket_name,
        Key=key,
        Body=body,
        ContentType="image/png",
        CacheControl="private, max-age=31536000, immutable",
    )


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def persist_output(batch_id: str, angle_key: str, color_key: str | None, output: Any,
                   attempt: int = 1) -> PersistedOutput:
    """Download, check, thumbnail and store one output; the full PNG is stored byte for byte."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    data = fetch_output(output)
    timings["download"] = _ms(start)

    start = time.perf_counter()
    width, height = check_png(data)
    timings["png_check"] = _ms(start)

    image_key = image_key_for(batch_id, angle_key, color_key, attempt)
    thumb_key = thumb_key_for(batch_id, angle_key, color_key, attempt)
    # The full PNG uploads while the thumbnail is made; then the thumbnail uploads.
    start = time.perf_counter()
    full_put = _pool.submit(_put, image_key, data)
    try:
        thumb, thumb_image = thumbnail_of(data)
    except BaseException:
        full_put.cancel()
        raise
    timings["thumbnail"] = _ms(start)
    start = time.perf_counter()
    _put(thumb_key, thumb)
    full_put.result()
    timings["s3"] = _ms(start)  # what the S3 writes add after the thumbnail is ready

    return PersistedOutput(
        image_key=image_key,
        thumb_key=thumb_key,
        timings=timings,
        width=width,
        height=height,
        size_bytes=len(data),
        thumbnail=thumb_image,
    )
