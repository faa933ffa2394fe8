"""What the three preset sheets hold: their names, limits and the data classes parsed from them.

No I/O and no parsing here; the sheet rules are in docs/PRESETS.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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

MAX_SHEET_BYTES = 1024 * 1024
MAX_SHEET_ROWS = 5000


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
