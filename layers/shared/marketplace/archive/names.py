"""File names inside the archive: angle and colour LABELS made filesystem-safe, stable, unique.

`Front (0°)` / `Red Metallic` → `Front (0deg)/Red Metallic.png`. A name is safe on Windows,
macOS and Linux alike: ASCII only (accents dropped, `°` spelled `deg`), none of ``<>:"/\\|?*``
or control characters, no leading or trailing dot or space, not a reserved Windows device name
(`CON`, `NUL`, `COM1`...), at most `MAX_PART` characters. Unique ignoring case (Windows and macOS
folders are case-insensitive): a second label that comes out the same gets its key appended,
`Red (red_2)`, then a counter. Names depend only on the labels, the keys and their order in the
batch, so a rebuilt archive names every file the same way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MAX_PART = 80
ANGLE_FILE = "Studio angle"  # the angle's own image inside its folder (the sheet's first column)
MATRIX = "matrix.png"
MANIFEST = "manifest.json"
_SPELLED = {"°": "deg", "&": "and", "\u00d7": "x", "ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE"}
_UNSAFE = re.compile(r"[^A-Za-z0-9 ()\[\]_.,+'#=@!-]+")
_RUNS = re.compile(r"[ _]{2,}")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}


def safe_part(label: str, fallback: str = "_") -> str:
    """One path part (folder or file stem) from a label; `fallback` when nothing is left."""
    text = "".join(_SPELLED.get(ch, ch) for ch in unicodedata.normalize("NFKC", label))
    text = "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))
    text = _UNSAFE.sub("_", text)
    text = _RUNS.sub(lambda m: " " if " " in m.group(0) else "_", text)
    text = text.strip(" ._")[:MAX_PART].rstrip(" .")
    if not text:
        return fallback if fallback == "_" else safe_part(fallback)
    if text.split(".")[0].upper() in _RESERVED:
        text = f"{text}_"
    return text


def unique_names(items: Iterable[tuple[str, str]], taken: Iterable[str] = ()) -> dict[str, str]:
    """`(key, label)` pairs in order → `{key: safe unique name}`; `taken` are names already used
    (compared ignoring case). The first of two colliding labels keeps the plain name."""
    used = {name.casefold() for name in taken}
    names: dict[str, str] = {}
    for key, label in items:
        if key in names:
            continue
        base = safe_part(label, fallback=key)
        name = base
        if name.casefold() in used:
            name = f"{base} ({safe_part(key)})"[: MAX_PART + 40]
        counter = 2
        while name.casefold() in used:
            name = f"{base} ({safe_part(key)}) {counter}"
            counter += 1
        used.add(name.casefold())
        names[key] = name
    return names


class ArchiveNames:
    """Every cell's path in the archive: `{angle folder}/{colour name or "Studio angle"}.png`."""

    def __init__(self, angles: list[tuple[str, str]], colors: list[tuple[str, str]]) -> None:
        # Folders sit beside matrix.png and manifest.json; files beside the angle's own image.
        self.angles = unique_names(angles, taken=(MATRIX, MANIFEST))
        self.colors = unique_names(colors, taken=(ANGLE_FILE,))

    def path(self, angle_key: str, color_key: str | None) -> str:
        folder = self.angles.get(angle_key) or safe_part(angle_key)
        stem = ANGLE_FILE if not color_key else self.colors.get(color_key) or safe_part(color_key)
        return f"{folder}/{stem}.png"
