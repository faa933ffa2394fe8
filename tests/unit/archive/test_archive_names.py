"""File names in the archive: labels made filesystem-safe, stable and unique."""

from __future__ import annotations

import pytest

from marketplace.archive.names import MAX_PART, ArchiveNames, safe_part, unique_names

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("label", "name"),
    [
        ("Front (0°)", "Front (0deg)"),
        ("Red Metallic", "Red Metallic"),
        ("Crème Brûlée", "Creme Brulee"),
        ('a/b\\c:d*e?f"g<h>i|j', "a_b_c_d_e_f_g_h_i_j"),
        ("  ..hidden. ", "hidden"),
        ("tab\tand\nnewline", "tab_and_newline"),
        ("CON", "CON_"),
        ("nul.txt", "nul.txt_"),
        ("black  gloss", "black gloss"),
        ("Rosso 🚗 Corsa", "Rosso Corsa"),
    ],
)
def test_given_a_label_when_made_a_file_name_then_it_is_safe_on_every_filesystem(label: str, name: str):
    assert safe_part(label) == name


def test_given_an_empty_or_symbol_label_when_named_then_the_key_stands_in():
    assert safe_part("///", fallback="red_metallic") == "red_metallic"
    assert safe_part("", fallback="") == "_"


def test_given_a_very_long_label_when_named_then_it_is_cut_without_a_trailing_dot_or_space():
    name = safe_part("Very long colour name. " * 20)
    assert len(name) <= MAX_PART and not name.endswith((" ", "."))


def test_given_labels_that_collide_when_named_then_each_is_unique_ignoring_case_and_the_first_keeps_its_name():
    names = unique_names([("red_1", "Red"), ("red_2", "red"), ("red_3", "Red/"), ("red_4", "Red")])
    assert names["red_1"] == "Red"
    assert len({n.casefold() for n in names.values()}) == 4
    assert names["red_2"] == "red (red_2)"


def test_given_the_same_batch_twice_when_named_then_names_are_identical():
    angles = [("front_0", "Front (0°)"), ("side_90", "Side (90°)")]
    colors = [("red_metallic", "Red Metallic"), ("studio", "Studio angle")]
    first, second = ArchiveNames(angles, colors), ArchiveNames(angles, colors)
    assert first.path("front_0", "red_metallic") == second.path("front_0", "red_metallic") == "Front (0deg)/Red Metallic.png"
    assert first.path("front_0", None) == "Front (0deg)/Studio angle.png"
    # a colour labelled like the angle's own image does not overwrite it
    assert first.path("front_0", "studio") == "Front (0deg)/Studio angle (studio).png"


def test_given_an_angle_labelled_like_the_manifest_when_named_then_it_does_not_clash_with_the_root_files():
    names = ArchiveNames([("m", "manifest.json"), ("x", "Matrix.PNG")], [])
    assert names.path("m", None).split("/")[0] == "manifest.json (m)"
    assert names.path("x", None).split("/")[0] == "Matrix.PNG (x)"
