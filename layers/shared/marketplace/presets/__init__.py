"""Prompts and presets from the three published CSV sheets: fetch, parse, validate, cache.

The sheet rules (columns, keys, booleans, placeholders, BOM/CRLF tolerance, errors, caching, the
last-good copy) are in docs/PRESETS.md. Modules, each depending only on those after it:

* :mod:`.store`: ``PresetsStore`` (cache + last-good copy in S3) and ``get_presets()``;
* :mod:`.fetch`: ``fetch_sheet()`` over HTTP (timeouts, one retry; ``requests`` imported lazily);
* :mod:`.parse`: CSV parsing and validation, pure;
* :mod:`.model`: sheet names, limits and the data classes.

This package only re-exports their public names (``from marketplace.presets import X`` keeps
working). The tunables (``FETCH_TIMEOUT``, ``RETRY_DELAY_SECONDS``...) and ``logger`` are read
from the submodule that uses them: patch them there (``marketplace.presets.fetch``,
``marketplace.presets.store``), not here.
"""

from __future__ import annotations

from marketplace.presets.fetch import FETCH_ATTEMPTS as FETCH_ATTEMPTS
from marketplace.presets.fetch import FETCH_TIMEOUT as FETCH_TIMEOUT
from marketplace.presets.fetch import FETCH_TOTAL_SECONDS as FETCH_TOTAL_SECONDS
from marketplace.presets.fetch import RETRY_DELAY_SECONDS as RETRY_DELAY_SECONDS
from marketplace.presets.fetch import SheetFetchError, fetch_sheet
from marketplace.presets.fetch import safe_url as safe_url
from marketplace.presets.model import (
    ANGLE_GENERATION,
    ANGLE_PLACEHOLDERS,
    COLOR_PLACEHOLDERS,
    COLORIZATION,
    KEY_PATTERN,
    MAX_SHEET_BYTES,
    MAX_SHEET_ROWS,
    PLACEHOLDER_PATTERN,
    SHEET_ANGLES,
    SHEET_COLORS,
    SHEET_GLOBAL,
    SHEETS,
    AnglePreset,
    ColorPreset,
    Presets,
    PromptTemplate,
)
from marketplace.presets.model import REQUIRED_TEMPLATES as REQUIRED_TEMPLATES
from marketplace.presets.parse import (
    parse_angle_presets,
    parse_bool,
    parse_color_presets,
    parse_global_prompts,
    parse_presets,
    placeholders_in,
)
from marketplace.presets.store import ERROR_CACHE_SECONDS as ERROR_CACHE_SECONDS
from marketplace.presets.store import (
    LAST_GOOD_PREFIX,
    PresetsStore,
    get_presets,
    last_good_key,
    reset_presets_cache,
)

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
