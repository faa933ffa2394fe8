"""The cached presets with a last-good copy in S3, and the process-wide ``get_presets()``.

Caching and last-good rules: docs/PRESETS.md. ``logger`` and the tunables are read from this
module at call time (tests patch them here, ``marketplace.presets.store``).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from marketplace.errors import PresetsInvalid, PresetsUnavailable
from marketplace.observability import logger
from marketplace.presets.fetch import SheetFetchError, fetch_sheet
from marketplace.presets.model import MAX_SHEET_BYTES, SHEET_ANGLES, SHEET_COLORS, SHEET_GLOBAL, SHEETS, Presets
from marketplace.presets.parse import SHEET_PARSERS, assemble

LAST_GOOD_PREFIX = "presets/last-good/"
ERROR_CACHE_SECONDS = 5.0  # a failed refresh is remembered this long (capped by cache_seconds)


def last_good_key(sheet: str) -> str:
    return f"{LAST_GOOD_PREFIX}{sheet}.csv"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PresetsStore:
    """Cached, validated presets with a last-good copy.

    ``get()`` serves the cached :class:`Presets` while younger than ``cache_seconds``;
    otherwise it fetches the three sheets (in parallel), parses and validates them, caches the
    result and saves each raw CSV that changed to ``s3://{bucket}/presets/last-good/{sheet}.csv``.
    A sheet that cannot be fetched is replaced by its last good copy (memory, then S3) with a
    WARNING; without one, :class:`PresetsUnavailable`. A sheet fetched but invalid raises
    :class:`PresetsInvalid` (logged as an error), never the old copy. A failed refresh is
    remembered for ``min(cache_seconds, 5)`` seconds so a broken sheet is not re-fetched by
    every request. One lock: concurrent callers wait for a single refresh.

    Injection: ``fetch(url, sheet) -> str``; ``s3`` client and ``bucket`` (``bucket=""``
    disables the S3 copy; ``None`` takes ``settings.bucket_name``); ``clock``;
    ``cache_seconds`` (``None``: ``settings.presets_cache_seconds``); ``urls`` mapping sheet
    name (``GlobalPrompts``...) to URL (``None``: from the settings). Settings and the AWS
    client are resolved on first use, never at import or construction.
    """

    def __init__(
        self,
        fetch: Callable[[str, str], str] = fetch_sheet,
        s3: Any = None,
        bucket: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        cache_seconds: float | None = None,
        urls: Mapping[str, str | None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._s3 = s3
        self._bucket = bucket
        self._clock = clock
        self._cache_seconds = cache_seconds
        self._urls: dict[str, str | None] | None = dict(urls) if urls is not None else None
        self._lock = threading.Lock()
        self._resolved = False
        # (time, Presets) after a success, (time, exception) after a failure
        self._entry: tuple[float, Presets | Exception] | None = None
        self._last_good: dict[str, str] = {}
        self._saved_digest: dict[str, str] = {}

    # -- configuration ---------------------------------------------------------------

    def _resolve(self) -> None:
        if self._resolved:
            return
        if self._urls is None or self._cache_seconds is None or (self._bucket is None):
            from marketplace.config import get_settings

            settings = get_settings()
            if self._urls is None:
                self._urls = {
                    SHEET_GLOBAL: settings.global_prompts_csv_url,
                    SHEET_ANGLES: settings.angle_presets_csv_url,
                    SHEET_COLORS: settings.color_presets_csv_url,
                }
            if self._cache_seconds is None:
                self._cache_seconds = settings.presets_cache_seconds
            if self._bucket is None:
                self._bucket = settings.bucket_name or ""
        if self._bucket and self._s3 is None:
            from marketplace.aws import s3_client

            self._s3 = s3_client()
        self._resolved = True

    # -- public ----------------------------------------------------------------------

    def get(self) -> Presets:
        hit = self._cached(self._clock())
        if hit is not None:
            return hit
        with self._lock:
            self._resolve()
            now = self._clock()
            hit = self._cached(now)
            if hit is not None:
                return hit
            try:
                presets = self._refresh()
            except (PresetsInvalid, PresetsUnavailable) as exc:
                self._entry = (now, exc)
                raise
            self._entry = (now, presets)
            return presets

    def invalidate(self) -> None:
        """Forget the cached presets (the last good copy is kept)."""
        with self._lock:
            self._entry = None

    # -- internals -------------------------------------------------------------------

    def _cached(self, now: float) -> Presets | None:
        entry = self._entry
        if entry is None or self._cache_seconds is None:
            return None
        at, value = entry
        age = now - at
        if isinstance(value, Presets):
            return value if age < self._cache_seconds else None
        if age < min(float(self._cache_seconds), ERROR_CACHE_SECONDS):
            raise value
        return None

    def _refresh(self) -> Presets:
        urls = self._urls or {}
        results: dict[str, str] = {}
        failures: dict[str, SheetFetchError] = {}
        invalid: dict[str, PresetsInvalid] = {}
        with ThreadPoolExecutor(max_workers=len(SHEETS), thread_name_prefix="presets-fetch") as pool:
            futures = {sheet: pool.submit(self._fetch, urls.get(sheet) or "", sheet) for sheet in SHEETS}
            for sheet, fut in futures.items():
                try:
                    results[sheet] = fut.result()
                except SheetFetchError as exc:
                    failures[sheet] = exc
                except PresetsInvalid as exc:
                    invalid[sheet] = exc

        parsed: dict[str, Any] = {}
        for sheet in SHEETS:
            if sheet in invalid:
                self._log_invalid(invalid[sheet])
                raise invalid[sheet]
            if sheet in results:
                try:
                    parsed[sheet] = SHEET_PARSERS[sheet](results[sheet])
                except PresetsInvalid as exc:
                    self._log_invalid(exc)
                    raise

        texts = dict(results)
        for sheet, failure in failures.items():
            text, source = self._last_good_text(sheet)
            if text is None:
                logger.error(
                    "Presets sheet unavailable and no last good copy",
                    extra={"sheet": sheet, "status": failure.status, "reason": str(failure)},
                )
                raise PresetsUnavailable(f"sheet {sheet} could not be fetched ({failure}) and no last good copy exists")
            logger.warning(
                "Presets sheet fetch failed; serving the last good copy",
                extra={"sheet": sheet, "status": failure.status, "reason": str(failure), "source": source},
            )
            texts[sheet] = text
            try:
                parsed[sheet] = SHEET_PARSERS[sheet](text)
            except PresetsInvalid as inv:  # only if someone edited the S3 copy by hand
                self._log_invalid(inv)
                raise

        try:
            presets = assemble(parsed[SHEET_GLOBAL], parsed[SHEET_ANGLES], parsed[SHEET_COLORS])
        except PresetsInvalid as exc:
            self._log_invalid(exc)
            raise

        self._last_good.update(texts)
        for sheet in results:
            self._save_last_good(sheet, results[sheet])
        return presets

    @staticmethod
    def _log_invalid(exc: PresetsInvalid) -> None:
        logger.error(
            "Presets sheet is invalid",
            extra={"sheet": exc.sheet, "column": exc.column, "reason": exc.message},
        )

    def _last_good_text(self, sheet: str) -> tuple[str | None, str]:
        text = self._last_good.get(sheet)
        if text is not None:
            return text, "memory"
        if not self._bucket or self._s3 is None:
            return None, "none"
        try:
            obj = self._s3.get_object(Bucket=self._bucket, Key=last_good_key(sheet))
            raw = obj["Body"].read(MAX_SHEET_BYTES + 1)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("NoSuchKey", "404", "NotFound"):
                logger.warning("Could not read the last good presets copy", extra={"sheet": sheet, "error": code})
            return None, "none"
        except BotoCoreError as exc:
            logger.warning("Could not read the last good presets copy", extra={"sheet": sheet, "error": type(exc).__name__})
            return None, "none"
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            logger.warning("The last good presets copy is not UTF-8", extra={"sheet": sheet})
            return None, "none"
        self._saved_digest[sheet] = _digest(text)
        return text, "s3"

    def _save_last_good(self, sheet: str, text: str) -> None:
        if not self._bucket or self._s3 is None:
            return
        digest = _digest(text)
        if self._saved_digest.get(sheet) == digest:
            return
        key = last_good_key(sheet)
        try:
            if sheet not in self._saved_digest:
                # First save in this process: skip the put when S3 already holds this content.
                try:
                    head = self._s3.head_object(Bucket=self._bucket, Key=key)
                    if head.get("Metadata", {}).get("sha256") == digest:
                        self._saved_digest[sheet] = digest
                        return
                except ClientError:
                    pass  # not there yet (or not readable): write it
            self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=text.encode("utf-8"),
                ContentType="text/csv; charset=utf-8",
                Metadata={"sha256": digest},
            )
            self._saved_digest[sheet] = digest
        except (ClientError, BotoCoreError) as exc:
            # The presets are valid and served; only the copy failed. Retried next refresh.
            logger.warning(
                "Could not save the last good presets copy",
                extra={"sheet": sheet, "error": type(exc).__name__},
            )


# --------------------------------------------------------------------------- process-wide

_store: PresetsStore | None = None
_store_lock = threading.Lock()


def get_presets() -> Presets:
    """The current presets from the process-wide store (built on first call)."""
    global _store
    store = _store
    if store is None:
        with _store_lock:
            if _store is None:
                _store = PresetsStore()
            store = _store
    return store.get()


def reset_presets_cache() -> None:
    """Drop the process-wide store (tests; the next call rebuilds it from the settings)."""
    global _store
    with _store_lock:
        _store = None
