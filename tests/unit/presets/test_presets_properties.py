"""Property tests: valid tables survive whatever a published sheet does to them."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marketplace.errors import PresetsInvalid
from marketplace.presets import (
    KEY_PATTERN,
    AnglePreset,
    ColorPreset,
    PromptTemplate,
    parse_angle_presets,
    parse_color_presets,
    parse_global_prompts,
    parse_presets,
)

pytestmark = pytest.mark.unit

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = st.from_regex(KEY_PATTERN, fullmatch=True)
# Any text but CR (CRLF/CR inside a quoted cell are normalised to LF by design) and already trimmed.
VALUE = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1, max_size=25)
VALUE = VALUE.map(str.strip).filter(bool)
NO_BRACES = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r{}"), max_size=25).map(str.strip)
TRUE_SPELLINGS = ["TRUE", "true", "True", "1", "yes", "YES", "y", "Y", ""]
FALSE_SPELLINGS = ["FALSE", "false", "0", "no", "NO", "n", "N"]


@st.composite
def angle_rows(draw):
    keys = draw(st.lists(KEYS, min_size=0, max_size=8, unique_by=str.casefold))
    rows = []
    for key in keys:
        enabled = draw(st.booleans())
        label = draw(VALUE if enabled else st.one_of(VALUE, st.just("")))
        desc = draw(VALUE if enabled else st.one_of(VALUE, st.just("")))
        order = draw(st.one_of(st.none(), st.integers(-999_999_999, 999_999_999)))
        rows.append(AnglePreset(key, label, desc, order, enabled))
    return rows


@st.composite
def color_rows(draw):
    keys = draw(st.lists(KEYS, min_size=0, max_size=8, unique_by=str.casefold))
    rows = []
    for key in keys:
        enabled = draw(st.booleans())
        label = draw(VALUE if enabled else st.one_of(VALUE, st.just("")))
        value = draw(VALUE if enabled else st.one_of(VALUE, st.just("")))
        rows.append(ColorPreset(key, label, value, enabled))
    return rows


@st.composite
def prompt_rows(draw):
    rows = [
        PromptTemplate("angle_generation", draw(NO_BRACES) + " {{ANGLE_DESC}} " + draw(NO_BRACES), ("ANGLE_DESC",)),
        PromptTemplate("colorization", draw(NO_BRACES) + "{{COLOR_NAME}}" + draw(NO_BRACES), ("COLOR_NAME",)),
    ]
    rows = [PromptTemplate(r.key, r.prompt_template.strip(), r.variables) for r in rows]
    taken = {"angle_generation", "colorization"}
    for key in draw(st.lists(KEYS, max_size=4, unique_by=str.casefold)):
        if key.casefold() in taken:
            continue
        taken.add(key.casefold())
        variables = tuple(draw(st.lists(st.from_regex(r"[A-Z][A-Z_]{0,10}", fullmatch=True), max_size=3)))
        rows.append(PromptTemplate(key, draw(VALUE), variables))
    order = draw(st.permutations(range(len(rows))))
    return [rows[i] for i in order]


@st.composite
def messy_csv(draw, header: list[str], rows: list[list[str]]):
    """Render a table the way a published sheet might: BOM, any line ending, padding, case, extras."""
    pad = st.sampled_from(["", " ", "  ", "\t"])

    def variant(name: str) -> str:
        shape = draw(st.sampled_from([name, name.upper(), name.title(), name.replace("_", " "), name.replace("_", "-")]))
        return draw(pad) + shape + draw(pad)

    columns = [variant(h) for h in header]
    extras = draw(st.lists(st.sampled_from(["notes", "", "Owner", "x_extra"]), max_size=3))
    positions = [draw(st.integers(0, len(columns) + i)) for i in range(len(extras))]
    layout: list[int | str] = list(range(len(header)))  # index into a row, or an extra column name
    for name, pos in zip(extras, positions, strict=True):
        layout.insert(pos, name)
        columns.insert(pos, name)

    records = [columns]
    for row in rows:
        rec = []
        for item in layout:
            if isinstance(item, int):
                rec.append(draw(pad) + row[item] + draw(pad))
            else:
                rec.append(draw(st.sampled_from(["", "note, with comma", "x"])))
        if draw(st.booleans()):  # a short row: trailing empty cells dropped
            while rec and rec[-1] == "" and isinstance(layout[len(rec) - 1], str):
                rec.pop()
        records.append(rec)
    for _ in range(draw(st.integers(0, 3))):  # blank rows anywhere (before the header too)
        blank = [""] * draw(st.integers(0, len(columns)))
        records.insert(draw(st.integers(0, len(records))), blank)

    out = io.StringIO()
    # Written with CRLF so cells holding a line break are quoted (Python 3.11's writer only quotes
    # characters of its own lineterminator), then switched to the drawn line ending. No cell
    # holds a CR, so every CRLF is a record end.
    csv.writer(out, lineterminator="\r\n").writerows(records)
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return draw(st.sampled_from(["", "\ufeff"])) + out.getvalue().replace("\r\n", newline)


def _bool_cell(draw, value: bool) -> str:
    return draw(st.sampled_from(TRUE_SPELLINGS if value else FALSE_SPELLINGS))


def _order_cell(draw, order: int | None) -> str:
    if order is None:
        return draw(st.sampled_from(["", " "]))
    forms = [str(order), f"{order}.0"] + ([f"+{order}"] if order >= 0 else [])
    return draw(st.sampled_from(forms))


def _expected_angles(rows: list[AnglePreset], with_order: bool) -> tuple[AnglePreset, ...]:
    if not with_order:
        rows = [AnglePreset(r.angle_key, r.angle_label, r.angle_desc, None, r.enabled) for r in rows]
    indexed = sorted(enumerate(rows), key=lambda it: (it[1].order is None, it[1].order or 0, it[0]))
    return tuple(r for _, r in indexed)


@SETTINGS
@given(data=st.data())
def test_given_any_valid_angle_table_when_rendered_messily_then_it_parses_back_to_the_same_presets(data):
    rows = data.draw(angle_rows())
    with_order = data.draw(st.booleans())
    header = ["angle_key", "angle_label", "angle_desc", "enabled"] + (["order"] if with_order else [])
    table = [
        [r.angle_key, r.angle_label, r.angle_desc, _bool_cell(data.draw, r.enabled)]
        + ([_order_cell(data.draw, r.order)] if with_order else [])
        for r in rows
    ]
    text = data.draw(messy_csv(header, table))
    assert parse_angle_presets(text) == _expected_angles(rows, with_order)


@SETTINGS
@given(data=st.data())
def test_given_any_valid_color_table_when_rendered_messily_then_it_parses_back_in_sheet_order(data):
    rows = data.draw(color_rows())
    header = ["color_key", "color_label", "prompt_value", "enabled"]
    table = [[r.color_key, r.color_label, r.prompt_value, _bool_cell(data.draw, r.enabled)] for r in rows]
    text = data.draw(messy_csv(header, table))
    assert parse_color_presets(text) == tuple(rows)


@SETTINGS
@given(data=st.data())
def test_given_any_valid_prompt_table_when_rendered_messily_then_templates_round_trip(data):
    rows = data.draw(prompt_rows())
    table = [[r.key, r.prompt_template, ", ".join(r.variables)] for r in rows]
    text = data.draw(messy_csv(["key", "prompt_template", "variables"], table))
    assert parse_global_prompts(text) == {r.key: r for r in rows}


@SETTINGS
@given(key=KEYS)
def test_given_any_valid_key_when_used_in_every_sheet_then_it_round_trips(key):
    angles = parse_angle_presets(f"angle_key,angle_label,angle_desc,order,enabled\n{key},L,D,,TRUE\n")
    colors = parse_color_presets(f"color_key,color_label,prompt_value,enabled\n{key},L,V,TRUE\n")
    assert angles[0].angle_key == key and colors[0].color_key == key


@SETTINGS
@given(key=st.text(max_size=70).map(str.strip).filter(lambda k: k and not KEY_PATTERN.fullmatch(k) and "\n" not in k))
def test_given_any_invalid_key_when_parsed_then_rejected_on_the_key_column(key):
    buf = io.StringIO()
    csv.writer(buf).writerows([["color_key", "color_label", "prompt_value", "enabled"], [key, "L", "V", "TRUE"]])
    with pytest.raises(PresetsInvalid) as info:
        parse_color_presets(buf.getvalue())
    assert info.value.column in ("color_key", None)


ANY_TEXT = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.sampled_from(list(',"\n\r \ufeff{}abc_TRUE01')), max_size=300),
    st.builds(lambda h, t: h + t, st.sampled_from(["key,prompt_template,variables\n",
                                                   "angle_key,angle_label,angle_desc,order,enabled\n",
                                                   "color_key,color_label,prompt_value,enabled\n"]),
              st.text(alphabet=st.sampled_from(list(',"\n\r \ufeff{}abc_TRUE019.-{}')), max_size=300)),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(a=ANY_TEXT, b=ANY_TEXT, c=ANY_TEXT)
def test_given_arbitrary_text_when_parsed_then_only_presets_invalid_can_be_raised(a, b, c):
    for parse in (
        parse_global_prompts,
        parse_angle_presets,
        parse_color_presets,
        lambda text: parse_presets(text, b, c),
        lambda text: parse_presets(b, text, c),
        lambda text: parse_presets(c, b, text),
    ):
        try:
            parse(a)
        except PresetsInvalid as exc:
            assert exc.sheet in ("GlobalPrompts", "AnglePresets", "ColorPresets")
            assert exc.sheet in str(exc)
