"""Parse and validate the three published CSV sheets (pure: no I/O).

The rules (columns, keys, booleans, order, placeholders, BOM/CRLF tolerance, limits, error
messages naming sheet and column) are in docs/PRESETS.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from marketplace.errors import PresetsInvalid
from marketplace.presets.model import (
    KEY_PATTERN,
    MAX_SHEET_BYTES,
    MAX_SHEET_ROWS,
    PLACEHOLDER_PATTERN,
    REQUIRED_TEMPLATES,
    SHEET_ANGLES,
    SHEET_COLORS,
    SHEET_GLOBAL,
    AnglePreset,
    ColorPreset,
    Presets,
    PromptTemplate,
)

_ORDER_PATTERN = re.compile(r"([+-]?)(\d{1,9})(?:\.0*)?")
_HEADER_SEPARATORS = re.compile(r"[\s\-]+")
_VARIABLE_SPLIT = re.compile(r"[\s,;|]+")

_TRUE = frozenset({"true", "1", "yes", "y"})
_FALSE = frozenset({"false", "0", "no", "n"})


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
    """Parse a sheet boolean; empty means True (see docs/PRESETS.md)."""
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
    """Parse the GlobalPrompts sheet (see docs/PRESETS.md for the rules)."""
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


def assemble(prompts: dict[str, PromptTemplate], angles: tuple[AnglePreset, ...], colors: tuple[ColorPreset, ...]) -> Presets:
    """Cross-sheet rules over already parsed sheets."""
    if not any(a.enabled for a in angles):
        raise _invalid(SHEET_ANGLES, "enabled", "no enabled angle: at least one row must be enabled")
    return Presets(prompts=prompts, angles=angles, colors=colors)


def parse_presets(global_text: str, angles_text: str, colors_text: str) -> Presets:
    """Parse and validate the three sheets together (pure, no I/O)."""
    return assemble(parse_global_prompts(global_text), parse_angle_presets(angles_text), parse_color_presets(colors_text))


SHEET_PARSERS: dict[str, Callable[[str], Any]] = {
    SHEET_GLOBAL: parse_global_prompts,
    SHEET_ANGLES: parse_angle_presets,
    SHEET_COLORS: parse_color_presets,
}
