"""Source files are judged by their first bytes, never their names."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from marketplace_cli.files import FileRejected, inspect_file, inspect_files, sniff_content_type

pytestmark = pytest.mark.unit


def encoded(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 150, 140)).save(buffer, fmt)
    return buffer.getvalue()


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return (8 + len(body)).to_bytes(4, "big") + b"ftyp" + body + b"\x00" * 16


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (encoded("JPEG"), "image/jpeg"),
        (encoded("PNG"), "image/png"),
        (encoded("WEBP"), "image/webp"),
        (ftyp(b"heic", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"heix", b"mif1"), "image/heic"),
        (ftyp(b"mif1", b"mif1", b"heic"), "image/heic"),
        (ftyp(b"mif1", b"mif1"), "image/heif"),
        (ftyp(b"msf1", b"msf1"), "image/heif"),
        (ftyp(b"avif", b"mif1", b"miaf", b"avif"), None),  # AVIF is HEIF-based but not accepted
        (ftyp(b"avif", b"avif"), None),
        (ftyp(b"isom", b"mp41"), None),  # an MP4
        (encoded("GIF"), None),
        (encoded("BMP"), None),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", None),
        (b"%PDF-1.7\n", None),
        (b"\xff\xd8", None),  # too short to be a JPEG
        (b"", None),
    ],
)
def test_sniff_content_type(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head[:64]) == expected


def test_the_name_does_not_matter(tmp_path: Path) -> None:
    jpeg_named_png = tmp_path / "photo.png"
    jpeg_named_png.write_bytes(encoded("JPEG"))
    text_named_jpg = tmp_path / "notes.jpg"
    text_named_jpg.write_text("not an image at all")
    no_extension = tmp_path / "IMG_0001"
    no_extension.write_bytes(ftyp(b"heic", b"heic"))

    assert inspect_file(jpeg_named_png).content_type == "image/jpeg"
    assert inspect_file(no_extension).content_type == "image/heic"
    with pytest.raises(FileRejected, match=r"notes\.jpg: not a JPEG, PNG, WebP or HEIC/HEIF"):
        inspect_file(text_named_jpg)


def test_upload_request_fields(tmp_path: Path) -> None:
    path = tmp_path / "car.webp"
    data = encoded("WEBP")
    path.write_bytes(data)
    source = inspect_file(path)
    assert source.as_upload_request() == {"filename": "car.webp", "contentType": "image/webp", "size": len(data)}


def test_missing_empty_and_too_large_files(tmp_path: Path) -> None:
    with pytest.raises(FileRejected, match="no such file"):
        inspect_file(tmp_path / "nope.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(FileRejected, match="empty"):
        inspect_file(empty)
    big = tmp_path / "big.jpg"
    big.write_bytes(encoded("JPEG") + b"\x00" * 2000)
    with pytest.raises(FileRejected, match="more than the 1000 bytes"):
        inspect_file(big, max_bytes=1000)


def test_file_count_limits(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(encoded("PNG"))
    with pytest.raises(FileRejected, match="at least one"):
        inspect_files([])
    with pytest.raises(FileRejected, match="3 images is more than the 2 allowed"):
        inspect_files([path, path, path], max_files=2)
    assert [s.content_type for s in inspect_files([path, path])] == ["image/png", "image/png"]
