"""`matrix.png`: a labelled contact sheet of a batch.

Rows are angles; the first column is the angle image, then one column per colour. Column
headers carry the colour label and a swatch of the `#RRGGBB` in its prompt value; row labels
carry the angle label (and key). A completed colour cell carries its colour check as a badge in
its tile's corner ("✓ ΔE 3.1" on green, "off ΔE 24.0" on red, "? unchecked" on grey). A failed cell
is a grey tile saying "failed" and why; a cell that is not finished or was never requested is a
pale tile. White background, DejaVu Sans when
installed, else Pillow's scalable default font.

`Layout` holds every size and position, so tests (and callers) can reason about the geometry
without rendering.

One implementation for the CLI (`batch download`) and the ZIP export (`marketplace.archive`):
`images` is any mapping, read one tile at a time while the sheet is drawn, so the archive
builder passes a lazy one (thumbnails fetched as their tile comes up) and never holds every
image of a 1,230-cell batch at once. Pillow is imported with this module: import it where it
is used, never from a handler's import path.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

CELL_W = 320
CELL_H = 240  # 4:3, the shape of the generated images; other shapes are letterboxed
MARGIN = 28
GAP = 14
LABEL_W = 190
TITLE_H = 64
HEADER_H = 52
FOOTER_H = 30

WHITE = (255, 255, 255)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
RULE = (222, 226, 230)
FAILED_BG = (206, 208, 212)
FAILED_INK = (73, 80, 87)
PENDING_BG = (245, 246, 248)
FAILED_ACCENT = (176, 42, 55)
CHECK_COLOURS = {"ok": (25, 135, 84), "off": FAILED_ACCENT, "unknown": (108, 117, 125)}

TIMES = "\u00d7"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
_HEX = re.compile(r"#([0-9A-Fa-f]{6}|[0-9A-Fa-f]{3})(?![0-9A-Fa-f])")

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont
CellKey = tuple[str, str | None]


@functools.lru_cache(maxsize=16)
def font(size: int, bold: bool = False) -> FontType:
    """DejaVu Sans (bold) when present, else Pillow's default font at this size (Pillow ≥ 10.1)."""
    candidate = DEJAVU / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf")
    if candidate.is_file():
        try:
            return ImageFont.truetype(str(candidate), size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed tiny bitmap font, still readable enough
        return ImageFont.load_default()


def swatch_rgb(prompt_value: str | None) -> tuple[int, int, int] | None:
    """The first `#RRGGBB` (or `#RGB`) in a colour's prompt value."""
    match = _HEX.search(prompt_value or "")
    if not match:
        return None
    digits = match.group(1)
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))


@dataclass(frozen=True)
class Column:
    key: str | None  # None: the angle image column
    label: str
    swatch: tuple[int, int, int] | None = None


@dataclass(frozen=True)
class Row:
    key: str
    label: str


@dataclass(frozen=True)
class Tile:
    """What goes in one cell: `image` when completed (or looked up in `render`'s `images`), else
    a status (and error when failed)."""

    status: str  # completed | failed | queued | processing | missing
    image: Image.Image | None = None
    error: str | None = None
    check: Mapping[str, Any] | None = None  # a colour cell's colorCheck {target, measured, deltaE, verdict}


@dataclass(frozen=True)
class Layout:
    rows: int
    columns: int  # including the angle column
    cell_w: int = CELL_W
    cell_h: int = CELL_H
    margin: int = MARGIN
    gap: int = GAP
    label_w: int = LABEL_W
    title_h: int = TITLE_H
    header_h: int = HEADER_H
    footer_h: int = FOOTER_H

    @property
    def width(self) -> int:
        return 2 * self.margin + self.label_w + self.columns * self.cell_w + self.columns * self.gap

    @property
    def height(self) -> int:
        grid = self.rows * self.cell_h + max(0, self.rows - 1) * self.gap
        return 2 * self.margin + self.title_h + self.header_h + grid + self.footer_h

    @property
    def size(self) -> tuple[int, int]:
        return (self.width, self.height)

    @property
    def grid_top(self) -> int:
        return self.margin + self.title_h + self.header_h

    def column_x(self, column: int) -> int:
        return self.margin + self.label_w + self.gap + column * (self.cell_w + self.gap)

    def row_y(self, row: int) -> int:
        return self.grid_top + row * (self.cell_h + self.gap)

    def cell_box(self, row: int, column: int) -> tuple[int, int, int, int]:
        x, y = self.column_x(column), self.row_y(row)
        return (x, y, x + self.cell_w, y + self.cell_h)

    def header_box(self, column: int) -> tuple[int, int, int, int]:
        x = self.column_x(column)
        return (x, self.margin + self.title_h, x + self.cell_w, self.grid_top)

    def label_box(self, row: int) -> tuple[int, int, int, int]:
        y = self.row_y(row)
        return (self.margin, y, self.margin + self.label_w, y + self.cell_h)


def _text_width(draw: ImageDraw.ImageDraw, text: str, face: FontType) -> int:
    left, _, right, _ = draw.textbbox((0, 0), text, font=face)
    return int(right - left)


def fit_text(draw: ImageDraw.ImageDraw, text: str, face: FontType, width: int) -> str:
    """`text`, cut with an ellipsis to fit `width` pixels."""
    if _text_width(draw, text, face) <= width:
        return text
    while text and _text_width(draw, text + "…", face) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def wrap_text(draw: ImageDraw.ImageDraw, text: str, face: FontType, width: int, max_lines: int) -> list[str]:
    """Greedy word wrap to `width` pixels, at most `max_lines` (the last one ellipsised)."""
    words = text.split()
    lines: list[str] = []
    current = ""
    for index, word in enumerate(words):
        trial = f"{current} {word}".strip()
        if _text_width(draw, trial, face) <= width or not current:
            current = trial
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines:
            lines[-1] = fit_text(draw, lines[-1] + " " + " ".join(words[index:]), face, width)
            return lines
    if current:
        lines.append(fit_text(draw, current, face, width))
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], fit_text(draw, " ".join(lines[max_lines - 1 :]), face, width)]
    return lines


def _line_height(face: FontType) -> int:
    _, top, _, bottom = face.getbbox("Ag")
    return int(bottom - top)


def _paste_contained(canvas: Image.Image, image: Image.Image, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    width, height = x1 - x0, y1 - y0
    picture = image.convert("RGB")
    picture.thumbnail((width, height), Image.Resampling.LANCZOS)
    if picture.size != (width, height):
        canvas.paste(WHITE, box)
    canvas.paste(picture, (x0 + (width - picture.width) // 2, y0 + (height - picture.height) // 2))


def check_text(check: Mapping[str, Any]) -> str:
    """The badge's words: "✓ ΔE 3.1", "off ΔE 24.0", "? unchecked" (ASCII without DejaVu's glyphs)."""
    verdict, delta_e = check.get("verdict"), check.get("deltaE")
    fancy = (DEJAVU / "DejaVuSans-Bold.ttf").is_file()
    measure = (f"ΔE {delta_e:.1f}" if fancy else f"dE {delta_e:.1f}") if isinstance(delta_e, int | float) else ""
    if verdict == "ok":
        return f"{'✓' if fancy else 'ok'} {measure}".strip()
    if verdict == "off":
        return f"off {measure}".strip()
    return "? unchecked" if check.get("target") is None else "? not measured"


def _draw_check_badge(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], check: Mapping[str, Any]) -> None:
    """The colour check in the tile's bottom-left corner, with the measured paint's swatch."""
    face = font(15, bold=True)
    text = check_text(check)
    pad, swatch = 7, 14
    measured = swatch_rgb(str(check.get("measured") or ""))
    width = _text_width(draw, text, face) + 2 * pad + (swatch + 6 if measured else 0)
    height = _line_height(face) + 2 * pad
    x0, y1 = box[0] + 8, box[3] - 8
    fill = CHECK_COLOURS.get(str(check.get("verdict")), CHECK_COLOURS["unknown"])
    draw.rounded_rectangle((x0, y1 - height, x0 + width, y1), radius=6, fill=fill)
    x = x0 + pad
    if measured:
        top = y1 - height // 2 - swatch // 2
        draw.rectangle((x, top, x + swatch, top + swatch), fill=measured, outline=WHITE)
        x += swatch + 6
    draw.text((x, y1 - height // 2), text, font=face, fill=WHITE, anchor="lm")


def _draw_status_tile(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], tile: Tile) -> None:
    x0, y0, x1, y1 = box
    if tile.status == "failed":
        draw.rectangle(box, fill=FAILED_BG)
        draw.rectangle((x0, y0, x1 - 1, y0 + 4), fill=FAILED_ACCENT)
        title_face, reason_face = font(22, bold=True), font(14)
        reason = wrap_text(draw, tile.error or "no reason given", reason_face, x1 - x0 - 36, 4)
        title_h, line_h = _line_height(title_face), _line_height(reason_face) + 5
        block = title_h + 12 + line_h * len(reason)
        y = y0 + (y1 - y0 - block) // 2
        draw.text(((x0 + x1) // 2, y), "failed", font=title_face, fill=FAILED_ACCENT, anchor="mt")
        y += title_h + 12
        for line in reason:
            draw.text(((x0 + x1) // 2, y), line, font=reason_face, fill=FAILED_INK, anchor="mt")
            y += line_h
        return
    draw.rectangle(box, fill=PENDING_BG, outline=RULE)
    text = {"missing": "not requested", "queued": "queued", "processing": "processing…"}.get(tile.status, tile.status)
    draw.text(((x0 + x1) // 2, (y0 + y1) // 2), text, font=font(16), fill=MUTED, anchor="mm")


def render(
    rows: list[Row],
    columns: list[Column],
    tiles: dict[tuple[str, str | None], Tile],
    *,
    title: str = "",
    subtitle: str = "",
    footer: str = "",
    images: Mapping[CellKey, Image.Image] | None = None,
) -> Image.Image:
    """`columns[0]` is the angle column (key None); `tiles[(angleKey, colorKey|None)]`. A completed
    tile without its own image is looked up in `images` when its turn comes (rows, then columns)."""
    layout = Layout(rows=len(rows), columns=len(columns))
    canvas = Image.new("RGB", layout.size, WHITE)
    draw = ImageDraw.Draw(canvas)

    # Title
    title_face, subtitle_face = font(24, bold=True), font(14)
    draw.text(
        (layout.margin, layout.margin),
        fit_text(draw, title, title_face, layout.width - 2 * layout.margin),
        font=title_face,
        fill=INK,
    )
    if subtitle:
        draw.text(
            (layout.margin, layout.margin + _line_height(title_face) + 12),
            fit_text(draw, subtitle, subtitle_face, layout.width - 2 * layout.margin),
            font=subtitle_face,
            fill=MUTED,
        )

    # Column headers: label (and swatch) centred above each column, a rule under them.
    header_face = font(17, bold=True)
    swatch = 20
    for index, column in enumerate(columns):
        x0, y0, _, y1 = layout.header_box(index)
        centre_y = (y0 + y1) // 2 - 2
        room = layout.cell_w - (swatch + 10 if column.swatch else 0) - 8
        label = fit_text(draw, column.label, header_face, room)
        text_w = _text_width(draw, label, header_face)
        total = text_w + (swatch + 10 if column.swatch else 0)
        x = x0 + (layout.cell_w - total) // 2
        if column.swatch:
            draw.rounded_rectangle(
                (x, centre_y - swatch // 2, x + swatch, centre_y + swatch // 2),
                radius=4,
                fill=column.swatch,
                outline=(150, 150, 150),
            )
            x += swatch + 10
        draw.text((x, centre_y), label, font=header_face, fill=INK if column.key else MUTED, anchor="lm")
    rule_y = layout.grid_top - 8
    draw.line((layout.margin, rule_y, layout.width - layout.margin, rule_y), fill=RULE, width=2)

    # Rows: label on the left, then the tiles.
    label_face, key_face = font(18, bold=True), font(13)
    for r, row in enumerate(rows):
        lx0, ly0, _, ly1 = layout.label_box(r)
        lines = wrap_text(draw, row.label, label_face, layout.label_w - 12, 3)
        line_h = _line_height(label_face) + 6
        block = line_h * len(lines) + (_line_height(key_face) + 6 if row.key != row.label else 0)
        y = (ly0 + ly1 - block) // 2
        for line in lines:
            draw.text((lx0, y), line, font=label_face, fill=INK)
            y += line_h
        if row.key != row.label:
            draw.text((lx0, y + 2), fit_text(draw, row.key, key_face, layout.label_w - 12), font=key_face, fill=MUTED)
        for c, column in enumerate(columns):
            box = layout.cell_box(r, c)
            tile = tiles.get((row.key, column.key), Tile("missing"))
            image = tile.image
            if tile.status == "completed" and image is None and images is not None:
                image = images.get((row.key, column.key))
                if image is None:
                    tile = Tile("failed", error=tile.error or "image could not be read")
            if tile.status == "completed" and image is not None:
                _paste_contained(canvas, image, box)
                draw.rectangle(box, outline=RULE)
                if column.key is not None and tile.check:
                    _draw_check_badge(draw, box, tile.check)
            else:
                _draw_status_tile(draw, box, tile)

    if footer:
        draw.text(
            (layout.margin, layout.height - layout.margin - layout.footer_h // 2), footer, font=font(13), fill=MUTED, anchor="lm"
        )
    return canvas


def build_sheet(
    snapshot: dict[str, Any],
    presets: dict[str, Any] | None,
    images: Mapping[CellKey, Image.Image],
    footer: str = "",
) -> Image.Image:
    """From a batch snapshot, the presets (labels; may be None) and the images (any mapping: a
    completed cell is drawn when `images` has its key, each image read once as its tile is drawn)."""
    angle_labels = {
        a["angleKey"]: a.get("angleLabel") or a["angleKey"]
        for a in (presets or {}).get("angles", [])
        if isinstance(a, dict) and "angleKey" in a
    }
    color_info = {c["colorKey"]: c for c in (presets or {}).get("colors", []) if isinstance(c, dict) and "colorKey" in c}
    angles = [str(a) for a in snapshot.get("angles") or []]
    colors = [str(c) for c in snapshot.get("colors") or []]
    rows = [Row(a, str(angle_labels.get(a, a))) for a in angles]
    columns = [Column(None, "Studio angle")] + [
        Column(c, str(color_info.get(c, {}).get("colorLabel") or c), swatch_rgb(color_info.get(c, {}).get("promptValue")))
        for c in colors
    ]
    tiles: dict[tuple[str, str | None], Tile] = {}
    for cell in snapshot.get("cells") or []:
        key = (cell["angleKey"], cell.get("colorKey") or None)
        status = cell.get("status", "queued")
        if status == "completed" and key not in images:
            status, error = "failed", cell.get("error") or "image could not be downloaded"
        else:
            error = cell.get("error")
        check = cell.get("colorCheck")
        tiles[key] = Tile(status, None, error, check if isinstance(check, Mapping) else None)
    completed = sum(1 for t in tiles.values() if t.status == "completed")
    failed = sum(1 for t in tiles.values() if t.status == "failed")
    parts = [f"batch {snapshot.get('batchId', '')}", f"{plural(len(rows), 'angle')} {TIMES} {plural(len(colors), 'colour')}"]
    parts.append(f"{completed} completed" + (f", {failed} failed" if failed else ""))
    verdicts = [str(t.check.get("verdict")) for t in tiles.values() if t.status == "completed" and t.check]
    if verdicts:
        parts.append(f"colour check: {verdicts.count('ok')} ok" + (f", {verdicts.count('off')} off" if "off" in verdicts else "")
                     + (f", {verdicts.count('unknown')} unchecked" if "unknown" in verdicts else ""))
    if snapshot.get("createdAt"):
        parts.append(f"created {readable_time(str(snapshot['createdAt']))}")
    subtitle = " · ".join(parts)
    return render(rows, columns, tiles, title="Car Marketplace · studio matrix", subtitle=subtitle, footer=footer,
                  images=images)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def readable_time(value: str) -> str:
    """`2026-11-21T08:39:32.274Z` → `2026-11-21 08:39 UTC` (anything else unchanged)."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
