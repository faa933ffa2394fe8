"""GET one published sheet over HTTP: timeouts, one retry, size cap, UTF-8 decoding.

``requests`` is imported only when a sheet is fetched (most routes never need it). The tunables
below and ``logger`` are read from this module at call time: patch them here
(``marketplace.presets.fetch``), not on the package. Rules: docs/PRESETS.md.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from marketplace.errors import PresetsInvalid
from marketplace.observability import logger
from marketplace.presets.model import MAX_SHEET_BYTES

if TYPE_CHECKING:  # requests is imported when a sheet is fetched: most routes never need it
    import requests


FETCH_TIMEOUT: tuple[float, float] = (3.0, 10.0)  # (connect, read) seconds
FETCH_TOTAL_SECONDS = 30.0  # per attempt, against a server that drips bytes
FETCH_ATTEMPTS = 2  # the first try and exactly one retry
RETRY_DELAY_SECONDS = 0.2
_CHUNK = 64 * 1024


class SheetFetchError(Exception):
    """A sheet could not be fetched (network, timeout, non-2xx after the retry, HTML answer).

    ``status`` is the HTTP status when there was one. The message never contains the URL.
    """

    def __init__(self, sheet: str, status: int | None = None, reason: str = "") -> None:
        self.sheet = sheet
        self.status = status
        self.reason = reason
        detail = f"HTTP {status}" if status is not None else ""
        if reason:
            detail = f"{detail} ({reason})" if detail else reason
        super().__init__(f"sheet {sheet} could not be fetched: {detail or 'unknown error'}")


class _RetryableError(Exception):
    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def safe_url(url: str) -> str:
    """scheme://host[:port]/path, without credentials, query or fragment, for logs."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparseable url>"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _fetch_once(session: requests.Session, url: str, sheet: str) -> bytes:
    import requests

    started = time.monotonic()
    try:
        resp = session.get(url, timeout=FETCH_TIMEOUT, stream=True, headers={"Accept": "text/csv, text/plain;q=0.9, */*;q=0.1"})
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise _RetryableError(type(exc).__name__) from None
    except requests.RequestException as exc:  # invalid URL, too many redirects, ...
        raise SheetFetchError(sheet, None, type(exc).__name__) from None
    with resp:
        status = resp.status_code
        if status >= 500:
            raise _RetryableError(f"HTTP {status}", status)
        if not 200 <= status < 300:
            raise SheetFetchError(sheet, status)
        ctype = resp.headers.get("Content-Type", "").lower()
        if "text/html" in ctype:
            # A login or error page, never a sheet edit: treat like an outage.
            raise SheetFetchError(sheet, status, "answered HTML, not CSV (is the sheet still published?)")
        length = resp.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_SHEET_BYTES:
            raise PresetsInvalid(sheet, None, f"the sheet is larger than {MAX_SHEET_BYTES} bytes")
        buf = bytearray()
        try:
            for chunk in resp.iter_content(_CHUNK):
                buf += chunk
                if len(buf) > MAX_SHEET_BYTES:
                    raise PresetsInvalid(sheet, None, f"the sheet is larger than {MAX_SHEET_BYTES} bytes")
                if time.monotonic() - started > FETCH_TOTAL_SECONDS:
                    raise _RetryableError("Timeout (body too slow)")
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as exc:
            raise _RetryableError(type(exc).__name__) from None
        except requests.RequestException as exc:
            raise SheetFetchError(sheet, status, type(exc).__name__) from None
        return bytes(buf)


def fetch_sheet(url: str, sheet: str, session: requests.Session | None = None) -> str:
    """GET one published sheet and return its text.

    Timeouts: connect 3 s, read 10 s. Exactly one retry on a connection error, a timeout or
    a 5xx. Decoded as UTF-8 (a BOM is dropped). Raises :class:`SheetFetchError` when the
    sheet cannot be had, :class:`PresetsInvalid` (column None) when the body is over 1 MiB
    or not UTF-8. Logs show only scheme, host and path of the URL.
    """
    if not url:
        raise SheetFetchError(sheet, None, "no URL configured")
    import requests

    own = session is None
    sess = session if session is not None else requests.Session()
    try:
        for attempt in range(1, FETCH_ATTEMPTS + 1):
            try:
                body = _fetch_once(sess, url, sheet)
            except _RetryableError as exc:
                if attempt >= FETCH_ATTEMPTS:
                    raise SheetFetchError(sheet, exc.status, "" if exc.status else exc.reason) from None
                logger.info(
                    "Presets sheet fetch failed, retrying once",
                    extra={"sheet": sheet, "url": safe_url(url), "reason": exc.reason},
                )
                time.sleep(RETRY_DELAY_SECONDS)
                continue
            try:
                return body.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                raise PresetsInvalid(sheet, None, f"the sheet is not valid UTF-8 (byte {exc.start})") from None
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own:
            sess.close()
