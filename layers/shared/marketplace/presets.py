"""Prompts and presets: fetch, parse and validate the three published CSVs.

Three sheets, published as CSV (URLs from the settings):

* ``GlobalPrompts``: ``key``, ``prompt_template``, ``variables``. The templates
  ``angle_generation`` (must contain ``{{ANGLE_DESC}}``) and ``colorization`` (must
  contain ``{{COLOR_NAME}}``) are required.
* ``AnglePresets``: ``angle_key``, ``angle_label``, ``angle_desc``, ``order``, ``enabled``.
* ``ColorPresets``: ``color_key``, ``color_label``, ``prompt_value``, ``enabled``.

Reading rules (what published Google Sheets do, tolerated on purpose):

* UTF-8 with or without a BOM; CRLF, CR or LF line endings (line breaks inside quoted
  cells are normalised to LF); quoted commas and quoted line breaks.
* The header is the first row that is not blank. Header names are compared after trimming,
  lower-casing and turning runs of spaces/hyphens into ``_`` (``Angle_Key``, `` angle key ``
  and ``ANGLE-KEY`` are all ``angle_key``). Unknown (extra) columns are ignored; a known
  column that appears twice is an error.
* Blank rows (every cell empty after trimming) are skipped; every value is trimmed.
* Booleans (``enabled``): ``true/false``, ``1/0``, ``yes/no``, ``y/n`` in any case.
  **An empty ``enabled`` cell means enabled**: a row whose flag was left empty is meant to be
  live. That row is still fully validated, so a half-written row fails loudly (naming the
  column) instead of silently disappearing from the product.
* ``order``: an integer (``3``, ``-1``, ``+2``, and the sheet number format ``3.0``), at most
  9 digits. A blank cell, or no ``order`` column at all, means "no order": such angles sort
  after every ordered angle, in sheet order. Ties keep sheet order.
* Keys (``key``, ``angle_key``, ``color_key``) must match ``^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$``
  (they go into DynamoDB sort keys and URLs). Lookups are case-sensitive, but two keys of one
  sheet that differ only in case are rejected as duplicates (they would be confusing in a
  sheet and in URLs). Disabled rows are validated the same way except that their label,
  description and prompt value may be empty.
* Placeholders are ``{{NAME}}``; spaces inside the braces and the case of NAME do not matter.
  The required templates may only use the placeholders :mod:`marketplace.prompts` fills
  (angles: ``ANGLE_DESC``, ``ANGLE_LABEL``, ``ANGLE_KEY``; colours: ``COLOR_NAME``,
  ``COLOR_LABEL``, ``COLOR_KEY``), so a typo fails when the sheet is read, not per batch.
  The ``variables`` cell is informational (names separated by commas, semicolons or spaces,
  braces optional); the template text is the truth.
* Cross-sheet: at least one enabled angle (otherwise no batch can be made). Zero enabled
  colours is allowed (angles only).
* Limits: a sheet over 1 MiB (UTF-8) or with more than 5,000 data rows (blank rows counted)
  is rejected.

Every violation raises :class:`marketplace.errors.PresetsInvalid` whose ``message`` names the
sheet and the column (and the sheet row number where there is one).

:class:`PresetsStore` caches the parsed presets for ``presets_cache_seconds``, keeps the last
good raw CSVs in memory and in S3 (``presets/last-good/{sheet}.csv``) and serves them when a
sheet cannot be fetched. A sheet that *was* fetched but is invalid is never papered over.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from marketplace.errors import PresetsInvalid, PresetsUnavailable
from marketplace.observability import logger

if TYPE_CHECKING:  # requests is imported when a sheet is fetched: most routes never need it
    import requests

__all__ = [
    "ANGLE_GENERATION",
    "ANGLE_PLACEHOLDERS",
    "COLORIZATION",
    "COLOR_PLACEHOLDERS",
    "KEY_PATTERN",
    "LAST_GOOD_PREFIX",
    "MAX_SHEET_BYTES",
    "MAX_SHEET_ROWS",
    "PLACEHOLDER_PATTERN",
    "SHEETS",
    "SHEET_ANGLES",
    "SHEET_COLORS",
    "SHEET_GLOBAL",
    "AnglePreset",
    "ColorPreset",
    "Presets",
    "PresetsStore",
    "PromptTemplate",
    "SheetFetchError",
    "fetch_sheet",
    "get_presets",
    "last_good_key",
    "parse_angle_presets",
    "parse_bool",
    "parse_color_presets",
    "parse_global_prompts",
    "parse_presets",
    "placeholders_in",
    "reset_presets_cache",
]

SHEET_GLOBAL = "GlobalPrompts"
SHEET_ANGLES = "AnglePresets"
SHEET_COLORS = "ColorPresets"
SHEETS: tuple[str, ...] = (SHEET_GLOBAL, SHEET_ANGLES, SHEET_COLORS)

ANGLE_GENERATION = "angle_generation"
COLORIZATION = "colorization"

ANGLE_PLACEHOLDERS = frozenset({"ANGLE_DESC", "ANGLE_LABEL", "ANGLE_KEY"})
COLOR_PLACEHOLDERS = frozenset({"COLOR_NAME", "COLOR_LABEL", "COLOR_KEY"})
# template key -> (placeholder it must contain, placeholders it may use)
REQUIRED_TEMPLATES: dict[str, tuple[str, frozenset[str]]] = {
    ANGLE_GENERATION: ("ANGLE_DESC", ANGLE_PLACEHOLDERS),
    COLORIZATION: ("COLOR_NAME", COLOR_PLACEHOLDERS),
}

KEY_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
PLACEHOLDER_PATTERN = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ORDER_PATTERN = re.compile(r"([+-]?)(\d{1,9})(?:\.0*)?")
_HEADER_SEPARATORS = re.compile(r"[\s\-]+")
_VARIABLE_SPLIT = re.compile(r"[\s,;|]+")

MAX_SHEET_BYTES = 1024 * 1024
MAX_SHEET_ROWS = 5000

_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n"})


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class PromptTemplate:
    key: str
    prompt_template: str
    variables: tuple[str, ...] = ()


@dataclass(frozen=True)
class AnglePreset:
    angle_key: str
    angle_label: str
    angle_desc: str
    order: int | None
    enabled: bool


@dataclass(frozen=True)
class ColorPreset:
    color_key: str
    color_label: str
    prompt_value: str
    enabled: bool


@dataclass(frozen=True)
class Presets:
    """One validated set of the three sheets.

    ``angles`` are sorted by ``order`` (angles without an order last), then by sheet row;
    ``colors`` keep sheet order. Both include disabled rows: use ``enabled_angles()`` /
    ``enabled_colors()`` for what users may pick.
    """

    prompts: dict[str, PromptTemplate]
    angles: tuple[AnglePreset, ...]
    colors: tuple[ColorPreset, ...]

    def enabled_angles(self) -> tuple[AnglePreset, ...]:
        return tuple(a for a in self.angles if a.enabled)

    def enabled_colors(self) -> tuple[ColorPreset, ...]:
        return tuple(c for c in self.colors if c.enabled)

    def angle(self, key: str) -> AnglePreset | None:
        """The angle with exactly this key (enabled or not), else None."""
        for a in self.angles:
            if a.angle_key == key:
                return a
        return None

    def color(self, key: str) -> ColorPreset | None:
        """The colour with exactly this key (enabled or not), else None."""
        for c in self.colors:
            if c.color_key == key:
                return c
        return None

    def prompt(self, key: str) -> PromptTemplate | None:
        """The template with exactly this key, else None (the required two always exist)."""
        return self.prompts.get(key)


# --------------------------------------------------------------------------- parsing helpers


def _show(value: str, limit: int = 60) -> str:
    """A cell value for an error message: repr, truncated."""
    if len(value) > limit:
        value = value[:limit] + "…"
    return repr(value)


def _invalid(sheet: str, column: str | None, detail: str, row: int | None = None) -> PresetsInvalid:
    # PresetsInvalid itself prefixes "{sheet}.{column}: " (or "{sheet}: "), so the text reads
    # e.g. "AnglePresets.order: row 5: 'abc' is not an integer (at most 9 digits)".
    return PresetsInvalid(sheet, column, f"row {row}: {detail}" if row is not None else detail)


def _normalise_header(name: str) -> str:
    return _HEADER_SEPARATORS.sub("_", name.strip().lstrip("\ufeff").strip()).lower()


def placeholders_in(text: str) -> list[str]:
    """Placeholder names (upper-cased) used in ``text``, in order of appearance."""
    return [m.group(1).upper() for m in PLACEHOLDER_PATTERN.finditer(text)]


def parse_bool(value: str, *, sheet: str = "", column: str = "enabled", row: int | None = None) -> bool:
    """Parse a sheet boolean; empty means True (see the module docstring)."""
    v = value.strip().lower()
    if v == "" or v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise _invalid(sheet, column, f"{_show(value)} is not a boolean (use TRUE/FALSE, yes/no, 1/0)", row)


def _parse_order(value: str, *, sheet: str, row: int) -> int | None:
    v = value.strip()
    if v == "":
        return None
    m = _ORDER_PATTERN.fullmatch(v)
    if m is None:
        raise _invalid(sheet, "order", f"{_show(value)} is not an integer (at most 9 digits)", row)
    n = int(m.group(2))
    return -n if m.group(1) == "-" else n


class _Table:
    """A sheet read with the csv module: normalised header and non-blank data rows."""

    def __init__(self, sheet: str, text: str, required: tuple[str, ...], optional: tuple[str, ...] = ()) -> None:
        if not isinstance(text, str):
            raise TypeError(f"{sheet}: expected str, got {type(text).__name__}")
        self.sheet = sheet
        if len(text) > MAX_SHEET_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_SHEET_BYTES:
            raise _invalid(sheet, None, f"the sheet is larger than {MAX_SHEET_BYTES} bytes")
        text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
        reader = csv.reader(io.StringIO(text, newline=""), strict=False)
        header: list[str] | None = None
        self.rows: list[tuple[int, list[str]]] = []
        record = 0
        try:
            for cells in reader:
                record += 1
                if header is None:
                    if any(c.strip() for c in cells):
                        header = cells
                        header_record = record
                    continue
                if record - header_record > MAX_SHEET_ROWS:
                    raise _invalid(sheet, None, f"the sheet has more than {MAX_SHEET_ROWS} rows")
                if any(c.strip() for c in cells):
                    self.rows.append((record, cells))
        except csv.Error as exc:
            raise _invalid(sheet, None, f"not readable as CSV near row {record + 1}: {exc}") from None
        if header is None:
            raise _invalid(sheet, None, "the sheet is empty (no header row)")

        known = set(required) | set(optional)
        self.index: dict[str, int] = {}
        for i, raw in enumerate(header):
            name = _normalise_header(raw)
            if not name:
                continue
            if name in self.index and name in known:
                raise _invalid(sheet, name, "the column appears twice in the header", header_record)
            self.index.setdefault(name, i)
        found = ", ".join(_normalise_header(h) for h in header if h.strip()) or "nothing"
        for name in required:
            if name not in self.index:
                raise _invalid(sheet, name, f"required column '{name}' is missing from the header (found: {_show(found, 200)})")

    def has(self, column: str) -> bool:
        return column in self.index

    @staticmethod
    def _cell(cells: list[str], i: int | None) -> str:
        if i is None or i >= len(cells):
            return ""
        return cells[i].strip()

    def get(self, cells: list[str], column: str) -> str:
        return self._cell(cells, self.index.get(column))


def _check_key(sheet: str, column: str, key: str, row: int, seen: dict[str, tuple[str, int]]) -> None:
    if not KEY_PATTERN.fullmatch(key):
        detail = (
            "the key is empty"
            if key == ""
            else f"{_show(key)} is not a valid key (letters, digits, '_' and '-', starting with a letter or digit, "
            "at most 64 characters)"
        )
        raise _invalid(sheet, column, detail, row)
    folded = key.casefold()
    if folded in seen:
        other, other_row = seen[folded]
        same = "duplicate key" if other == key else f"key differs only in case from {_show(other)}"
        raise _invalid(sheet, column, f"{same}: {_show(key)} (also on row {other_row})", row)
    seen[folded] = (key, row)


def _require_text(sheet: str, column: str, value: str, row: int, what: str) -> None:
    if value == "":
        raise _invalid(sheet, column, f"{what} is empty on an enabled row", row)


# --------------------------------------------------------------------------- parsers


def parse_global_prompts(text: str) -> dict[str, PromptTemplate]:
    """Parse the GlobalPrompts sheet (see the module docstring for the rules)."""
    sheet = SHEET_GLOBAL
    table = _Table(sheet, text, ("key", "prompt_template", "variables"))
    seen: dict[str, tuple[str, int]] = {}
    prompts: dict[str, PromptTemplate] = {}
    for row, cells in table.rows:
        key = table.get(cells, "key")
        _check_key(sheet, "key", key, row, seen)
        template = table.get(cells, "prompt_template")
        if template == "":
            raise _invalid(sheet, "prompt_template", f"the template of {_show(key)} is empty", row)
        variables = tuple(v for v in (p.strip("{} ") for p in _VARIABLE_SPLIT.split(table.get(cells, "variables"))) if v)
        prompts[key] = PromptTemplate(key=key, prompt_template=template, variables=variables)

    for key, (needed, allowed) in REQUIRED_TEMPLATES.items():
        tpl = prompts.get(key)
        if tpl is None:
            raise _invalid(sheet, "key", f"required template '{key}' is missing")
        used = placeholders_in(tpl.prompt_template)
        if needed not in used:
            raise _invalid(sheet, "prompt_template", f"template '{key}' must contain the placeholder {{{{{needed}}}}}")
        unknown = sorted(set(used) - allowed)
        if unknown:
            names = ", ".join(f"{{{{{u}}}}}" for u in unknown)
            known = ", ".join(f"{{{{{u}}}}}" for u in sorted(allowed))
            raise _invalid(sheet, "prompt_template", f"template '{key}' uses unknown placeholder(s) {names} (known: {known})")
    return prompts


def parse_angle_presets(text: str) -> tuple[AnglePreset, ...]:
    """Parse the AnglePresets sheet; the result is sorted by order (None last), then sheet row."""
    sheet = SHEET_ANGLES
    table = _Table(sheet, text, ("angle_key", "angle_label", "angle_desc", "enabled"), ("order",))
    seen: dict[str, tuple[str, int]] = {}
    items: list[tuple[int, AnglePreset]] = []
    for row, cells in table.rows:
        key = table.get(cells, "angle_key")
        _check_key(sheet, "angle_key", key, row, seen)
        label = table.get(cells, "angle_label")
        desc = table.get(cells, "angle_desc")
        order = _parse_order(table.get(cells, "order"), sheet=sheet, row=row)
        enabled = parse_bool(table.get(cells, "enabled"), sheet=sheet, column="enabled", row=row)
        if enabled:
            _require_text(sheet, "angle_label", label, row, "the label")
            _require_text(sheet, "angle_desc", desc, row, "the description")
        items.append((row, AnglePreset(key, label, desc, order, enabled)))
    items.sort(key=lambda it: (it[1].order is None, it[1].order or 0, it[0]))
    return tuple(a for _, a in items)


def parse_color_presets(text: str) -> tuple[ColorPreset, ...]:
    """Parse the ColorPresets sheet; the result keeps sheet order."""
    sheet = SHEET_COLORS
    table = _Table(sheet, text, ("color_key", "color_label", "prompt_value", "enabled"))
    seen: dict[str, tuple[str, int]] = {}
    colors: list[ColorPreset] = []
    for row, cells in table.rows:
        key = table.get(cells, "color_key")
        _check_key(sheet, "color_key", key, row, seen)
        label = table.get(cells, "color_label")
        value = table.get(cells, "prompt_value")
        enabled = parse_bool(table.get(cells, "enabled"), sheet=sheet, column="enabled", row=row)
        if enabled:
            _require_text(sheet, "color_label", label, row, "the label")
            _require_text(sheet, "prompt_value", value, row, "the prompt value")
        colors.append(ColorPreset(key, label, value, enabled))
    return tuple(colors)


def _assemble(prompts: dict[str, PromptTemplate], angles: tuple[AnglePreset, ...], colors: tuple[ColorPreset, ...]) -> Presets:
    """Cross-sheet rules over already parsed sheets."""
    if not any(a.enabled for a in angles):
        raise _invalid(SHEET_ANGLES, "enabled", "no enabled angle: at least one row must be enabled")
    return Presets(prompts=prompts, angles=angles, colors=colors)


def parse_presets(global_text: str, angles_text: str, colors_text: str) -> Presets:
    """Parse and validate the three sheets together (pure, no I/O)."""
    return _assemble(parse_global_prompts(global_text), parse_angle_presets(angles_text), parse_color_presets(colors_text))


_PARSERS: dict[str, Callable[[str], Any]] = {
    SHEET_GLOBAL: parse_global_prompts,
    SHEET_ANGLES: parse_angle_presets,
    SHEET_COLORS: parse_color_presets,
}


# --------------------------------------------------------------------------- fetching

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
            raise _invalid(sheet, None, f"the sheet is larger than {MAX_SHEET_BYTES} bytes")
        buf = bytearray()
        try:
            for chunk in resp.iter_content(_CHUNK):
                buf += chunk
                if len(buf) > MAX_SHEET_BYTES:
                    raise _invalid(sheet, None, f"the sheet is larger than {MAX_SHEET_BYTES} bytes")
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
                raise _invalid(sheet, None, f"the sheet is not valid UTF-8 (byte {exc.start})") from None
        raise AssertionError("unreachable")  # pragma: no cover
    finally:
        if own:
            sess.close()


# --------------------------------------------------------------------------- store

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
                    parsed[sheet] = _PARSERS[sheet](results[sheet])
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
                parsed[sheet] = _PARSERS[sheet](text)
            except PresetsInvalid as inv:  # only if someone edited the S3 copy by hand
                self._log_invalid(inv)
                raise

        try:
            presets = _assemble(parsed[SHEET_GLOBAL], parsed[SHEET_ANGLES], parsed[SHEET_COLORS])
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
