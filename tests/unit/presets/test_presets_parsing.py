from __future__ import annotations

import re

import pytest

from marketplace.errors import PresetsInvalid
from marketplace.presets import (
    MAX_SHEET_BYTES,
    MAX_SHEET_ROWS,
    SHEET_ANGLES,
    SHEET_COLORS,
    SHEET_GLOBAL,
    AnglePreset,
    ColorPreset,
    parse_angle_presets,
    parse_color_presets,
    parse_global_prompts,
    parse_presets,
)
from tests.support.presets_testkit import sample_text, sample_texts

pytestmark = pytest.mark.unit

ANGLE_HEADER = "angle_key,angle_label,angle_desc,order,enabled\n"
COLOR_HEADER = "color_key,color_label,prompt_value,enabled\n"
GLOBAL_OK = (
    "key,prompt_template,variables\n"
    'angle_generation,"Shoot the car from {{ANGLE_DESC}}, please",ANGLE_DESC\n'
    "colorization,Paint it {{COLOR_NAME}},COLOR_NAME\n"
)


def samples_presets():
    t = sample_texts()
    return parse_presets(t[SHEET_GLOBAL], t[SHEET_ANGLES], t[SHEET_COLORS])


# --------------------------------------------------------------------------- samples


def test_given_the_sample_sheets_when_parsed_then_all_rows_come_back_in_order():
    presets = samples_presets()

    assert [a.angle_key for a in presets.angles] == [
        "front_0", "front_right_45", "side_90", "rear_right_135",
        "rear_180", "rear_left_225", "side_270", "front_left_315", "top_down",
    ]  # fmt: skip
    assert [a.order for a in presets.angles] == list(range(1, 10))
    assert len(presets.enabled_angles()) == 8
    assert presets.angle("top_down").enabled is False
    assert presets.angle("front_0") == AnglePreset("front_0", "Front (0°)", presets.angle("front_0").angle_desc, 1, True)
    assert presets.angle("front_right_45").angle_label == "Front Right (45°)"
    assert presets.angle("rear_180").angle_label == "Rear (180°)"

    assert presets.color("red_metallic") == ColorPreset("red_metallic", "Red Metallic", "Red #C00000 (metallic)", True)
    assert presets.color("blue_metallic").prompt_value == "Blue #1F4E9D (metallic)"
    assert len(presets.colors) >= 9 and len(presets.enabled_colors()) == len(presets.colors) - 1
    assert all(re.search(r"#[0-9A-F]{6}\b", c.prompt_value) for c in presets.colors)
    for key in (
        "black_gloss",
        "white_pearl",
        "silver_metallic",
        "grey_matte",
        "green_racing",
        "yellow_solid",
        "orange_pearl",
    ):
        assert presets.color(key).enabled

    assert set(presets.prompts) == {"angle_generation", "colorization"}
    assert "{{ANGLE_DESC}}" in presets.prompt("angle_generation").prompt_template
    assert presets.prompt("angle_generation").variables == ("ANGLE_DESC",)
    assert "{{COLOR_NAME}}" in presets.prompt("colorization").prompt_template
    assert presets.prompt("colorization").variables == ("COLOR_NAME",)


def test_given_the_samples_when_checking_the_files_then_they_are_plain_utf8_with_lf():
    for text in sample_texts().values():
        assert not text.startswith("\ufeff")
        assert "\r" not in text


def test_given_presets_when_asking_for_unknown_keys_then_none_is_returned():
    presets = samples_presets()
    assert presets.angle("nope") is None
    assert presets.color("nope") is None
    assert presets.prompt("nope") is None
    assert presets.angle("FRONT_0") is None  # lookups are case-sensitive


def test_given_presets_when_rendered_for_the_api_then_only_enabled_rows_in_order():
    from marketplace.views import presets_view

    body = presets_view(samples_presets(), 0.039)
    assert body["pricing"] == {"pricePerImageUsd": 0.039, "currency": "USD"}
    assert [a["angleKey"] for a in body["angles"]][:2] == ["front_0", "front_right_45"]
    assert "top_down" not in [a["angleKey"] for a in body["angles"]]
    assert set(body["angles"][0]) == {"angleKey", "angleLabel", "angleDesc", "order"}
    assert set(body["colors"][0]) == {"colorKey", "colorLabel", "promptValue"}
    assert "purple_chrome" not in [c["colorKey"] for c in body["colors"]]


# --------------------------------------------------------------------------- messy input


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"])
@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_given_samples_with_bom_and_any_line_ending_when_parsed_then_same_presets(bom, newline):
    t = sample_texts()
    messy = {k: bom + v.replace("\n", newline) for k, v in t.items()}
    assert parse_presets(messy[SHEET_GLOBAL], messy[SHEET_ANGLES], messy[SHEET_COLORS]) == samples_presets()


def test_given_a_template_with_quoted_commas_and_newlines_when_parsed_then_kept_with_lf():
    text = (
        "key,prompt_template,variables\r\n"
        '"angle_generation","Line one, with a comma\r\nLine two: {{ANGLE_DESC}}\rLine three ""quoted""",ANGLE_DESC\r\n'
        'colorization,"Paint, it {{COLOR_NAME}}",COLOR_NAME\r\n'
    )
    prompts = parse_global_prompts(text)
    assert prompts["angle_generation"].prompt_template == (
        'Line one, with a comma\nLine two: {{ANGLE_DESC}}\nLine three "quoted"'
    )
    assert prompts["colorization"].prompt_template == "Paint, it {{COLOR_NAME}}"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("TRUE", True), ("true", True), ("True", True), ("1", True), ("yes", True), ("YES", True),
        ("y", True), ("Y", True), (" TRUE ", True), ("", True),
        ("FALSE", False), ("false", False), ("0", False), ("no", False), ("No", False), ("n", False), ("N", False),
    ],
)  # fmt: skip
def test_given_any_sheet_boolean_when_parsed_then_enabled_is_read_right(cell, expected):
    angles = parse_angle_presets(ANGLE_HEADER + f"a,A,desc,1,{cell}\n")
    colors = parse_color_presets(COLOR_HEADER + f"c,C,Cyan #00FFFF,{cell}\n")
    assert angles[0].enabled is expected
    assert colors[0].enabled is expected


def test_given_an_empty_enabled_cell_or_a_short_row_when_parsed_then_the_row_is_enabled():
    angles = parse_angle_presets(ANGLE_HEADER + "a,A,desc,1,\nb,B,desc,2\n")
    assert [a.enabled for a in angles] == [True, True]


def test_given_blank_rows_everywhere_when_parsed_then_they_are_skipped():
    text = "\n,,,\n" + ANGLE_HEADER + "\n , , ,,\na,A,desc,1,TRUE\n\n\n,,,,\nb,B,desc,2,FALSE\n,,\n"
    assert [a.angle_key for a in parse_angle_presets(text)] == ["a", "b"]


def test_given_extra_columns_and_headers_in_other_case_and_padding_when_parsed_then_read_by_name():
    text = (
        "Notes, ENABLED , Angle_Key ,angle label,Angle-Desc,,ORDER,Owner\n"
        "first,  TRUE  ,  front_0  ,  Front (0°)  ,  head on  ,x,  1  ,me\n"
        "second,false,rear_180,Rear,from behind,,2,\n"
    )
    angles = parse_angle_presets(text)
    assert angles == (
        AnglePreset("front_0", "Front (0°)", "head on", 1, True),
        AnglePreset("rear_180", "Rear", "from behind", 2, False),
    )


def test_given_no_order_column_when_parsed_then_orders_are_none_in_sheet_order():
    text = "angle_key,angle_label,angle_desc,enabled\nb,B,d,TRUE\na,A,d,TRUE\nc,C,d,FALSE\n"
    angles = parse_angle_presets(text)
    assert [(a.angle_key, a.order) for a in angles] == [("b", None), ("a", None), ("c", None)]


def test_given_blank_and_mixed_orders_when_parsed_then_ordered_first_then_blank_last_ties_in_sheet_order():
    text = ANGLE_HEADER + "n1,N,d,,TRUE\nt5,T,d,5,TRUE\nm,M,d,-1,TRUE\nn2,N,d, ,TRUE\nu5,U,d,5.0,TRUE\np,P,d,+2,TRUE\n"
    angles = parse_angle_presets(text)
    assert [(a.angle_key, a.order) for a in angles] == [
        ("m", -1), ("p", 2), ("t5", 5), ("u5", 5), ("n1", None), ("n2", None),
    ]  # fmt: skip


def test_given_a_disabled_row_with_empty_texts_when_parsed_then_it_is_accepted():
    angles = parse_angle_presets(ANGLE_HEADER + "a,A,d,1,TRUE\nlater,,,,FALSE\n")
    colors = parse_color_presets(COLOR_HEADER + "later,,,no\n")
    assert angles[1] == AnglePreset("later", "", "", None, False)
    assert colors == (ColorPreset("later", "", "", False),)


def test_given_other_prompt_keys_and_variable_spellings_when_parsed_then_kept():
    text = GLOBAL_OK + 'extra_note,"Anything {{WHATEVER}}","{{WHATEVER}}; OTHER, THIRD"\n'
    prompts = parse_global_prompts(text)
    assert prompts["extra_note"].variables == ("WHATEVER", "OTHER", "THIRD")
    assert prompts["colorization"].variables == ("COLOR_NAME",)


def test_given_placeholders_with_spaces_or_lower_case_when_parsed_then_accepted():
    text = "key,prompt_template,variables\nangle_generation,From {{ angle_desc }},\ncolorization,In {{COLOR_NAME }},\n"
    prompts = parse_global_prompts(text)
    assert prompts["angle_generation"].variables == ()


def test_given_colors_when_parsed_then_sheet_order_is_kept():
    colors = parse_color_presets(COLOR_HEADER + "z,Z,Zed #000000,TRUE\na,A,Ay #FFFFFF,TRUE\n")
    assert [c.color_key for c in colors] == ["z", "a"]


def test_given_a_sheet_at_the_row_limit_when_parsed_then_accepted():
    rows = "".join(f"k{i},L,Pv #000000,TRUE\n" for i in range(MAX_SHEET_ROWS))
    assert len(parse_color_presets(COLOR_HEADER + rows)) == MAX_SHEET_ROWS


# --------------------------------------------------------------------------- errors


def angles_text(*rows: str, header: str = ANGLE_HEADER) -> str:
    return header + "".join(r + "\n" for r in rows)


def colors_text(*rows: str, header: str = COLOR_HEADER) -> str:
    return header + "".join(r + "\n" for r in rows)


ERROR_CASES = [
    # (id, parser, text, sheet, column, fragment of the message)
    (
        "global missing key column",
        parse_global_prompts,
        "name,prompt_template,variables\na,b,c\n",
        SHEET_GLOBAL,
        "key",
        "missing",
    ),
    (
        "global missing template column",
        parse_global_prompts,
        "key,template,variables\na,b,c\n",
        SHEET_GLOBAL,
        "prompt_template",
        "missing",
    ),
    (
        "global missing variables column",
        parse_global_prompts,
        "key,prompt_template\nangle_generation,{{ANGLE_DESC}}\n",
        SHEET_GLOBAL,
        "variables",
        "missing",
    ),
    (
        "angle_generation missing",
        parse_global_prompts,
        "key,prompt_template,variables\ncolorization,{{COLOR_NAME}},\n",
        SHEET_GLOBAL,
        "key",
        "angle_generation",
    ),
    (
        "colorization missing",
        parse_global_prompts,
        "key,prompt_template,variables\nangle_generation,{{ANGLE_DESC}},\n",
        SHEET_GLOBAL,
        "key",
        "colorization",
    ),
    (
        "ANGLE_DESC placeholder missing",
        parse_global_prompts,
        "key,prompt_template,variables\nangle_generation,Shoot {{ANGLE_LABEL}},\ncolorization,{{COLOR_NAME}},\n",
        SHEET_GLOBAL,
        "prompt_template",
        "{{ANGLE_DESC}}",
    ),
    (
        "COLOR_NAME placeholder missing",
        parse_global_prompts,
        "key,prompt_template,variables\nangle_generation,{{ANGLE_DESC}},\ncolorization,Paint it {COLOR_NAME},\n",
        SHEET_GLOBAL,
        "prompt_template",
        "{{COLOR_NAME}}",
    ),
    (
        "unknown placeholder in a required template",
        parse_global_prompts,
        "key,prompt_template,variables\nangle_generation,{{ANGLE_DESC}} {{ANGEL_LABEL}},\ncolorization,{{COLOR_NAME}},\n",
        SHEET_GLOBAL,
        "prompt_template",
        "ANGEL_LABEL",
    ),
    (
        "colour placeholder in the angle template",
        parse_global_prompts,
        "key,prompt_template,variables\nangle_generation,{{ANGLE_DESC}} {{COLOR_NAME}},\ncolorization,{{COLOR_NAME}},\n",
        SHEET_GLOBAL,
        "prompt_template",
        "COLOR_NAME",
    ),
    ("empty template", parse_global_prompts, GLOBAL_OK + "other,,\n", SHEET_GLOBAL, "prompt_template", "empty"),
    (
        "duplicate prompt key",
        parse_global_prompts,
        GLOBAL_OK + "colorization,{{COLOR_NAME}} again,\n",
        SHEET_GLOBAL,
        "key",
        "duplicate",
    ),
    (
        "angle missing angle_key",
        parse_angle_presets,
        angles_text("x,y,1,TRUE", header="key,angle_label,angle_desc,order,enabled\n"),
        SHEET_ANGLES,
        "angle_key",
        "missing",
    ),
    (
        "angle missing label",
        parse_angle_presets,
        angles_text("a,d,1,TRUE", header="angle_key,angle_desc,order,enabled\n"),
        SHEET_ANGLES,
        "angle_label",
        "missing",
    ),
    (
        "angle missing desc",
        parse_angle_presets,
        angles_text("a,A,1,TRUE", header="angle_key,angle_label,order,enabled\n"),
        SHEET_ANGLES,
        "angle_desc",
        "missing",
    ),
    (
        "angle missing enabled",
        parse_angle_presets,
        angles_text("a,A,d,1", header="angle_key,angle_label,angle_desc,order\n"),
        SHEET_ANGLES,
        "enabled",
        "missing",
    ),
    (
        "angle column twice",
        parse_angle_presets,
        angles_text("a,A,d,1,TRUE,b", header="angle_key,angle_label,angle_desc,order,enabled,Angle_Key\n"),
        SHEET_ANGLES,
        "angle_key",
        "twice",
    ),
    (
        "duplicate angle key",
        parse_angle_presets,
        angles_text("a,A,d,1,TRUE", " a ,B,d,2,FALSE"),
        SHEET_ANGLES,
        "angle_key",
        "duplicate",
    ),
    (
        "angle keys differing in case",
        parse_angle_presets,
        angles_text("Front,A,d,1,TRUE", "front,B,d,2,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "case",
    ),
    (
        "angle key with a space",
        parse_angle_presets,
        angles_text("front 0,A,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "not a valid key",
    ),
    (
        "angle key with a slash",
        parse_angle_presets,
        angles_text("front/0,A,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "not a valid key",
    ),
    (
        "angle key with a hash",
        parse_angle_presets,
        angles_text("front#0,A,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "not a valid key",
    ),
    (
        "angle key starting with _",
        parse_angle_presets,
        angles_text("_front,A,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "not a valid key",
    ),
    (
        "angle key too long",
        parse_angle_presets,
        angles_text("a" * 65 + ",A,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "not a valid key",
    ),
    (
        "angle key non-ascii",
        parse_angle_presets,
        angles_text("vörn,A,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_key",
        "not a valid key",
    ),
    ("empty angle key", parse_angle_presets, angles_text(",A,d,1,TRUE"), SHEET_ANGLES, "angle_key", "empty"),
    (
        "order not a number",
        parse_angle_presets,
        angles_text("a,A,d,first,TRUE"),
        SHEET_ANGLES,
        "order",
        "not an integer",
    ),
    ("order a fraction", parse_angle_presets, angles_text("a,A,d,1.5,TRUE"), SHEET_ANGLES, "order", "not an integer"),
    (
        "order huge",
        parse_angle_presets,
        angles_text("a,A,d," + "9" * 5000 + ",TRUE"),
        SHEET_ANGLES,
        "order",
        "not an integer",
    ),
    ("angle bad boolean", parse_angle_presets, angles_text("a,A,d,1,maybe"), SHEET_ANGLES, "enabled", "not a boolean"),
    (
        "enabled angle without label",
        parse_angle_presets,
        angles_text("a,,d,1,TRUE"),
        SHEET_ANGLES,
        "angle_label",
        "empty",
    ),
    ("enabled angle without desc", parse_angle_presets, angles_text("a,A,  ,1,"), SHEET_ANGLES, "angle_desc", "empty"),
    (
        "color missing prompt_value",
        parse_color_presets,
        colors_text("c,C,TRUE", header="color_key,color_label,enabled\n"),
        SHEET_COLORS,
        "prompt_value",
        "missing",
    ),
    (
        "color missing enabled",
        parse_color_presets,
        colors_text("c,C,v", header="color_key,color_label,prompt_value\n"),
        SHEET_COLORS,
        "enabled",
        "missing",
    ),
    (
        "duplicate color key",
        parse_color_presets,
        colors_text("c,C,v,TRUE", "c,C,v,TRUE"),
        SHEET_COLORS,
        "color_key",
        "duplicate",
    ),
    (
        "bad color key",
        parse_color_presets,
        colors_text("red metallic,C,v,TRUE"),
        SHEET_COLORS,
        "color_key",
        "not a valid key",
    ),
    ("color bad boolean", parse_color_presets, colors_text("c,C,v,si"), SHEET_COLORS, "enabled", "not a boolean"),
    (
        "enabled color without label",
        parse_color_presets,
        colors_text("c,,v,TRUE"),
        SHEET_COLORS,
        "color_label",
        "empty",
    ),
    ("enabled color without value", parse_color_presets, colors_text("c,C,,y"), SHEET_COLORS, "prompt_value", "empty"),
]


@pytest.mark.parametrize(
    ("parser", "text", "sheet", "column", "fragment"),
    [case[1:] for case in ERROR_CASES],
    ids=[case[0] for case in ERROR_CASES],
)
def test_given_an_invalid_sheet_when_parsed_then_presets_invalid_names_sheet_and_column(parser, text, sheet, column, fragment):
    with pytest.raises(PresetsInvalid) as info:
        parser(text)
    exc = info.value
    assert exc.sheet == sheet
    assert exc.column == column
    assert sheet in str(exc) and column in str(exc)
    assert fragment.lower() in str(exc).lower()


def test_given_an_invalid_row_when_parsed_then_the_message_gives_the_sheet_row_number():
    with pytest.raises(PresetsInvalid) as info:
        parse_angle_presets(angles_text("a,A,d,1,TRUE", "", "b,B,d,x,TRUE"))
    assert "row 4" in str(info.value)


@pytest.mark.parametrize(
    ("parser", "sheet"),
    [(parse_global_prompts, SHEET_GLOBAL), (parse_angle_presets, SHEET_ANGLES), (parse_color_presets, SHEET_COLORS)],
)
@pytest.mark.parametrize("text", ["", "\ufeff", "\n\r\n\r", ",,,\n , ,\n", "   "])
def test_given_a_file_without_header_when_parsed_then_presets_invalid_for_the_sheet(parser, sheet, text):
    with pytest.raises(PresetsInvalid) as info:
        parser(text)
    assert info.value.sheet == sheet and info.value.column is None
    assert sheet in str(info.value) and "header" in str(info.value)


def test_given_a_sheet_over_one_mib_when_parsed_then_rejected_without_column():
    big = COLOR_HEADER + "c,C,v,TRUE\n" + ("x" * 1000 + "\n") * (MAX_SHEET_BYTES // 1000)
    with pytest.raises(PresetsInvalid) as info:
        parse_color_presets(big)
    assert info.value.sheet == SHEET_COLORS and info.value.column is None
    assert "larger" in str(info.value)


def test_given_multibyte_text_just_over_one_mib_when_parsed_then_counted_in_utf8_bytes():
    body = "é" * (MAX_SHEET_BYTES // 2 + 1)  # fewer characters than the cap, more bytes
    with pytest.raises(PresetsInvalid) as info:
        parse_color_presets(COLOR_HEADER + f'c,C,"{body}",TRUE\n')
    assert info.value.column is None


def test_given_a_sheet_over_the_row_limit_when_parsed_then_rejected_without_column():
    rows = "".join(f"k{i},L,Pv,TRUE\n" for i in range(MAX_SHEET_ROWS + 1))
    with pytest.raises(PresetsInvalid) as info:
        parse_color_presets(COLOR_HEADER + rows)
    assert info.value.sheet == SHEET_COLORS and info.value.column is None
    assert str(MAX_SHEET_ROWS) in str(info.value)


def test_given_no_enabled_angle_when_the_presets_are_assembled_then_presets_invalid():
    with pytest.raises(PresetsInvalid) as info:
        parse_presets(GLOBAL_OK, angles_text("a,A,d,1,FALSE"), sample_text(SHEET_COLORS))
    assert (info.value.sheet, info.value.column) == (SHEET_ANGLES, "enabled")


def test_given_no_enabled_color_when_the_presets_are_assembled_then_angles_only_is_fine():
    presets = parse_presets(GLOBAL_OK, angles_text("a,A,d,1,TRUE"), COLOR_HEADER)
    assert presets.colors == () and presets.enabled_colors() == ()


def test_given_three_sheets_when_one_is_invalid_then_parse_presets_names_that_sheet():
    t = sample_texts()
    with pytest.raises(PresetsInvalid) as info:
        parse_presets(t[SHEET_GLOBAL], t[SHEET_ANGLES], t[SHEET_COLORS].replace("TRUE", "sure", 1))
    assert info.value.sheet == SHEET_COLORS and info.value.column == "enabled"
