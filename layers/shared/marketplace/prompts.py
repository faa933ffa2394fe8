"""Build the exact prompt of a cell from a sheet template and a preset.

Placeholders are ``{{NAME}}``; spaces inside the braces and the case of NAME are tolerated
(``{{ angle_desc }}`` works). Substitution is a single regex pass, so a value that itself
contains ``{{...}}`` is inserted literally and never expanded again. A placeholder the builder
does not know raises :class:`marketplace.errors.PresetsInvalid` naming ``GlobalPrompts`` /
``prompt_template`` (the sheet parser already rejects such required templates on load).

Angle templates know ``{{ANGLE_DESC}}`` (required), ``{{ANGLE_LABEL}}``, ``{{ANGLE_KEY}}``;
colour templates know ``{{COLOR_NAME}}`` (required, the colour's ``prompt_value``),
``{{COLOR_LABEL}}``, ``{{COLOR_KEY}}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from marketplace.errors import PresetsInvalid
from marketplace.presets import PLACEHOLDER_PATTERN, SHEET_GLOBAL, AnglePreset, ColorPreset, PromptTemplate

__all__ = ["build_angle_prompt", "build_color_prompt", "render_template"]


def render_template(template: PromptTemplate, values: Mapping[str, str], required: str | None = None) -> str:
    """Replace every known ``{{NAME}}`` in one pass; unknown or missing-required → PresetsInvalid."""
    text = template.prompt_template
    unknown: list[str] = []
    found: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).upper()
        if name in values:
            found.add(name)
            return values[name]
        unknown.append(match.group(0))
        return match.group(0)

    result = PLACEHOLDER_PATTERN.sub(substitute, text)
    if unknown:
        known = ", ".join(f"{{{{{k}}}}}" for k in sorted(values))
        raise PresetsInvalid(
            SHEET_GLOBAL,
            "prompt_template",
            f"template '{template.key}' uses unknown placeholder(s) {', '.join(dict.fromkeys(unknown))} (known: {known})",
        )
    if required is not None and required not in found:
        raise PresetsInvalid(
            SHEET_GLOBAL,
            "prompt_template",
            f"template '{template.key}' must contain the placeholder {{{{{required}}}}}",
        )
    return result


def build_angle_prompt(template: PromptTemplate, angle: AnglePreset) -> str:
    """The angle-generation prompt for ``angle`` (``{{ANGLE_DESC}}`` ← ``angle.angle_desc``)."""
    return render_template(
        template,
        {"ANGLE_DESC": angle.angle_desc, "ANGLE_LABEL": angle.angle_label, "ANGLE_KEY": angle.angle_key},
        required="ANGLE_DESC",
    )


def build_color_prompt(template: PromptTemplate, color: ColorPreset) -> str:
    """The colourisation prompt for ``color`` (``{{COLOR_NAME}}`` ← ``color.prompt_value``)."""
    return render_template(
        template,
        {"COLOR_NAME": color.prompt_value, "COLOR_LABEL": color.color_label, "COLOR_KEY": color.color_key},
        required="COLOR_NAME",
    )
