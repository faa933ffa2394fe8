from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from marketplace.errors import PresetsInvalid
from marketplace.presets import (
    SHEET_ANGLES,
    SHEET_COLORS,
    SHEET_GLOBAL,
    AnglePreset,
    ColorPreset,
    PromptTemplate,
    parse_presets,
)
from marketplace.prompts import build_angle_prompt, build_color_prompt
from tests.support.presets_testkit import sample_texts

pytestmark = pytest.mark.unit

ANGLE = AnglePreset("front_right_45", "Front Right (45°)", "front three-quarter view from the right", 2, True)
COLOR = ColorPreset("red_metallic", "Red Metallic", "Red #C00000 (metallic)", True)


def tpl(text: str, key: str = "angle_generation") -> PromptTemplate:
    return PromptTemplate(key, text, ())


def test_given_the_sample_templates_when_built_for_every_enabled_preset_then_no_placeholder_is_left():
    t = sample_texts()
    presets = parse_presets(t[SHEET_GLOBAL], t[SHEET_ANGLES], t[SHEET_COLORS])
    for angle in presets.enabled_angles():
        prompt = build_angle_prompt(presets.prompt("angle_generation"), angle)
        assert angle.angle_desc in prompt and "{{" not in prompt
    for color in presets.enabled_colors():
        prompt = build_color_prompt(presets.prompt("colorization"), color)
        assert color.prompt_value in prompt and "{{" not in prompt


def test_given_an_angle_template_when_built_then_every_occurrence_and_spacing_is_replaced():
    out = build_angle_prompt(tpl("A {{ANGLE_DESC}} / {{ ANGLE_DESC }} / {{angle_desc}} / {ANGLE_DESC}"), ANGLE)
    d = ANGLE.angle_desc
    assert out == f"A {d} / {d} / {d} / {{ANGLE_DESC}}"


def test_given_label_and_key_placeholders_when_built_then_they_are_filled():
    out = build_angle_prompt(tpl("{{ANGLE_KEY}}: {{ANGLE_LABEL}} = {{ANGLE_DESC}}"), ANGLE)
    assert out == "front_right_45: Front Right (45°) = front three-quarter view from the right"
    out = build_color_prompt(tpl("{{COLOR_KEY}}: {{COLOR_LABEL}} = {{COLOR_NAME}}", "colorization"), COLOR)
    assert out == "red_metallic: Red Metallic = Red #C00000 (metallic)"


def test_given_an_unknown_placeholder_when_built_then_presets_invalid_names_global_prompts_template():
    with pytest.raises(PresetsInvalid) as info:
        build_angle_prompt(tpl("{{ANGLE_DESC}} in {{WEATHER}}"), ANGLE)
    assert (info.value.sheet, info.value.column) == ("GlobalPrompts", "prompt_template")
    assert "WEATHER" in str(info.value) and "GlobalPrompts" in str(info.value)


def test_given_an_angle_template_when_used_for_a_colour_then_its_placeholder_is_unknown():
    with pytest.raises(PresetsInvalid) as info:
        build_color_prompt(tpl("Paint {{COLOR_NAME}} from {{ANGLE_DESC}}", "colorization"), COLOR)
    assert "ANGLE_DESC" in str(info.value)


@pytest.mark.parametrize(
    ("builder", "preset", "needed"),
    [(build_angle_prompt, ANGLE, "ANGLE_DESC"), (build_color_prompt, COLOR, "COLOR_NAME")],
)
def test_given_a_template_without_its_required_placeholder_when_built_then_presets_invalid(builder, preset, needed):
    with pytest.raises(PresetsInvalid) as info:
        builder(tpl("Nothing to fill here"), preset)
    assert info.value.column == "prompt_template" and needed in str(info.value)


def test_given_values_that_look_like_placeholders_when_built_then_inserted_literally_once():
    angle = AnglePreset("k", "{{ANGLE_DESC}}", r"side view {{ANGLE_LABEL}} \1 \g<0> {{UNKNOWN}}", 1, True)
    out = build_angle_prompt(tpl("[{{ANGLE_DESC}}] [{{ANGLE_LABEL}}]"), angle)
    assert out == r"[side view {{ANGLE_LABEL}} \1 \g<0> {{UNKNOWN}}] [{{ANGLE_DESC}}]"
    color = ColorPreset("k", "L", "{{COLOR_NAME}}{{COLOR_NAME}}", True)
    assert build_color_prompt(tpl("x {{COLOR_NAME}} y", "colorization"), color) == "x {{COLOR_NAME}}{{COLOR_NAME}} y"


@given(
    before=st.text(alphabet=st.characters(blacklist_characters="{}")),
    after=st.text(alphabet=st.characters(blacklist_characters="{}")),
    desc=st.text(),
)
def test_given_any_description_when_built_then_it_appears_verbatim_exactly_where_the_placeholder_was(before, after, desc):
    angle = AnglePreset("k", "L", desc, None, True)
    assert build_angle_prompt(tpl(before + "{{ANGLE_DESC}}" + after), angle) == before + desc + after


@given(value=st.text(), label=st.text())
def test_given_any_colour_value_when_built_then_inserted_verbatim(value, label):
    color = ColorPreset("k", label, value, True)
    out = build_color_prompt(tpl("{{COLOR_NAME}}|{{COLOR_LABEL}}", "colorization"), color)
    assert out == f"{value}|{label}"
