"""Source photo checks: the type comes from the file's first bytes (magic), never its name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MAX_UPLOAD_BYTES = 30 * 1024 * 1024
MAX_SOURCE_IMAGES = 16
ACCEPTED = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_BRANDS = {b"mif1", b"msf1", b"heif", b"mif2"}
_OTHER_BRANDS = {b"avif", b"avis", b"isom", b"mp41", b"mp42", b"qt  ", b"crx "}  # AVIF, video, raw: not accepted


class FileRejected(ValueError):
    """A source file the API would refuse; the message names the file and the reason."""


def sniff_content_type(head: bytes) -> str | None:
    """The image type of these leading bytes (at least 32 are best), or None if not accepted."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if len(head) >= 12 and head[4:8] == b"ftyp":
        # ISO BMFF: major brand at 8..12, then minor version, then compatible brands to box end.
        major = head[8:12]
        box_size = int.from_bytes(head[0:4], "big")
        end = min(len(head), box_size if box_size >= 16 else 16)
        compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
        if major in _HEIC_BRANDS:
            return "image/heic"
        if major in _HEIF_BRANDS:
            return "image/heic" if compatible & _HEIC_BRANDS else "image/heif"
        if major not in _OTHER_BRANDS and compatible & _HEIC_BRANDS:
            return "image/heic"
    return None


@dataclass(frozen=True)
class SourceFile:
    path: Path
    content_type: str
    size: int

    @property
    def filename(self) -> str:
        return self.path.name

    def as_upload_request(self) -> dict[str, object]:
        return {"filename": self.filename[:255], "contentType": self.content_type, "size": self.size}


def inspect_file(path: str | Path, max_bytes: int = MAX_UPLOAD_BYTES) -> SourceFile:
    file = Path(path)
    if not file.is_file():
        raise FileRejected(f"{file}: no such file")
    size = file.stat().st_size
    if size == 0:
        raise FileRejected(f"{file}: the file is empty")
    if size > max_bytes:
        raise FileRejected(f"{file}: {size} bytes is more than the {max_bytes} bytes allowed")
    try:
        with file.open("rb") as handle:
            head = handle.read(64)
    except OSError as exc:
        raise FileRejected(f"{file}: cannot read it ({exc.strerror or exc})") from exc
    content_type = sniff_content_type(head)
    if content_type is None:
        raise FileRejected(f"{file}: not a JPEG, PNG, WebP or HEIC/HEIF image (judged by its content, not its name)")
    return SourceFile(file, content_type, size)


def inspect_files(
    paths: list[str | Path], max_files: int = MAX_SOURCE_IMAGES, max_bytes: int = MAX_UPLOAD_BYTES
) -> list[SourceFile]:
    if not paths:
        raise FileRejected("give at least one --image")
    if len(paths) > max_files:
        raise FileRejected(f"{len(paths)} images is more than the {max_files} allowed per batch")
    return [inspect_file(p, max_bytes) for p in paths]
