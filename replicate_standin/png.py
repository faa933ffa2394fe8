"""A small PNG writer for the stand-in's pictures (8-bit RGB or greyscale, text chunks).

Pillow's PNG encoder tries its five row filters on every row of an 8-bit picture and keeps the
best (about two thirds of its time on a studio shot); here every row is written unfiltered
(filter type 0) and deflated at ``LEVEL`` with zlib's default strategy. The studio shots are
flat backdrops and flat-shaded polygons, so the long runs compress as well unfiltered: the
files come out about as large as Pillow's at compress_level 1 (a metallic finish's grainy
flakes smaller), in a third of the time, and unfiltered rows are also the quickest to decode.

``steady`` rows: the studio shots of one viewpoint differ only in the car's band of rows (above
and below it: the set and the caption), so the rows outside the band are deflated on their own,
kept (``RUNS``) and spliced into the next picture's stream when its rows are byte for byte the
same (checked, so a wrong hint costs time, never a wrong picture).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Hashable
from dataclasses import dataclass

from PIL import Image

from .lru import LRU

SIGNATURE = b"\x89PNG\r\n\x1a\n"
LEVEL = 1
_COLOUR_TYPES = {"L": (0, 1), "RGB": (2, 3)}  # mode: (PNG colour type, bytes per pixel)
_ADLER_BASE = 65521


def chunk(kind: bytes, data: bytes) -> bytes:
    """Length, type, data and the CRC of type and data."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def text_chunk(key: str, value: str) -> bytes:
    """tEXt when the value is Latin-1 (as Pillow writes it), else an uncompressed iTXt (UTF-8)."""
    name = key.encode("latin-1")
    try:
        return chunk(b"tEXt", name + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        return chunk(b"iTXt", name + b"\0\0\0\0\0" + value.encode("utf-8"))


def adler32_combine(first: int, second: int, second_length: int) -> int:
    """The Adler-32 of two byte strings one after the other, from theirs and the second's length."""
    a1, b1, a2, b2 = first & 0xFFFF, first >> 16, second & 0xFFFF, second >> 16
    a = (a1 + a2 - 1) % _ADLER_BASE
    b = (b1 + b2 + second_length * (a1 - 1)) % _ADLER_BASE
    return (b << 16) | a


@dataclass(frozen=True)
class Run:
    """Rows deflated on their own (ending on a full flush: byte-aligned, and nothing after them
    refers back into them), with what splicing them into a stream takes."""

    pixels: bytes  # the rows' pixels: a later picture's rows must be these to use ``packed``
    packed: bytes  # raw deflate (no zlib header or checksum)
    adler: int  # Adler-32 of the rows with their filter bytes
    length: int  # bytes of the rows with their filter bytes


RUN_ENTRIES = 8
"""Runs kept: the rows above and below the car of 4 viewpoints, at most 0.9 MB each pair (a
viewpoint's colour jobs come together, as its studio ``View`` is kept)."""
RUNS: LRU[Hashable, Run] = LRU(RUN_ENTRIES)


def _rows(pixels: bytes, stride: int) -> bytes:
    """The rows behind their filter-type byte (0: none)."""
    return b"".join(b"\0" + pixels[start:start + stride] for start in range(0, len(pixels), stride))


def _run(pixels: bytes, stride: int, level: int, final: bool) -> Run:
    rows = _rows(pixels, stride)
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)
    packed = packer.compress(rows) + packer.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)
    return Run(pixels, packed, zlib.adler32(rows), len(rows))


def _kept_run(key: Hashable, pixels: bytes, stride: int, level: int, final: bool) -> Run:
    run = RUNS.get(key, lambda: _run(pixels, stride, level, final))
    if run.pixels != pixels:  # other rows under this key now: the newest are kept
        run = _run(pixels, stride, level, final)
        RUNS.put(key, run)
    return run


def _image_data(pixels: bytes, stride: int, height: int, level: int,
                steady: tuple[Hashable, int, int] | None) -> bytes:
    """The zlib stream of the rows: one deflate, or with ``steady`` the kept runs above and below
    the band and the band deflated alone, joined (zlib header, runs, Adler-32 of all rows)."""
    if steady is None:
        return zlib.compress(_rows(pixels, stride), level)
    key, top, bottom = steady
    top, bottom = max(0, min(top, height)), max(0, min(bottom, height))
    bottom = max(top, bottom)
    runs = []
    if top > 0:
        runs.append(_kept_run((key, "above", level, stride, top), pixels[: top * stride], stride, level, final=False))
    runs.append(_run(pixels[top * stride: bottom * stride], stride, level, final=bottom == height))
    if bottom < height:
        runs.append(_kept_run((key, "below", level, stride, bottom), pixels[bottom * stride:], stride, level, final=True))
    adler = runs[0].adler
    for run in runs[1:]:
        adler = adler32_combine(adler, run.adler, run.length)
    return zlib.compress(b"", level)[:2] + b"".join(run.packed for run in runs) + struct.pack(">I", adler)


def encode(image: Image.Image, text: dict[str, str] | None = None, level: int = LEVEL,
           steady: tuple[Hashable, int, int] | None = None) -> bytes:
    """``image`` (mode "RGB" or "L") as a PNG; ``text`` goes in text chunks before the image data,
    so a reader finds it without decoding the pixels (``Image.open(...).info``). ``steady`` =
    (key, top, bottom): the rows above ``top`` and from ``bottom`` on are likely those of the last
    picture encoded with ``key`` (see the module docstring)."""
    if image.mode not in _COLOUR_TYPES:
        raise ValueError(f"png.encode writes RGB and L pictures, not {image.mode}")
    colour_type, depth = _COLOUR_TYPES[image.mode]
    width, height = image.size
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    texts = b"".join(text_chunk(key, value) for key, value in (text or {}).items())
    data = _image_data(image.tobytes(), width * depth, height, level, steady)
    return b"".join((SIGNATURE, chunk(b"IHDR", header), texts, chunk(b"IDAT", data), chunk(b"IEND", b"")))
