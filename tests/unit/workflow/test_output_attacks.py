"""Hostile model outputs through the one cell path (webhook or poll): each must fail the cell
cleanly, with a reason, the workflow told, and nothing stored (no S3 object, no gallery asset).
The stand-in cannot be told to return a foreign URL or a bomb, so this runs at the persist level
with moto. See also test_output_persistence.py (each rejection on its own) and
tests/integration/workflow/test_output_download.py (redirects and caps over real HTTP)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from workflow_testkit import World, data_uri, deliver, make_batch, png_bytes, start, succeeded

pytestmark = [pytest.mark.unit, pytest.mark.security]


def chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming(width: int, height: int) -> bytes:
    """A well-formed PNG header claiming width x height over a tiny IDAT (a pixel bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def png_with_text_bomb() -> bytes:
    """A small valid PNG carrying a zTXt chunk that inflates to 64 MiB (a decompression bomb)."""
    real = png_bytes(32, 32)
    bomb = chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\x00" * (64 * 1024 * 1024), 9))
    return real[:33] + bomb + real[33:]  # after the 8-byte signature and the 25-byte IHDR chunk


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (0, 90, 0)).save(buffer, format="JPEG")
    return buffer.getvalue()


HOSTILE = {
    "foreign https host": "https://evil.example.com/output.png",
    "look-alike host": "https://replicate.delivery.evil.example.com/x.png",
    "suffix trick": "https://evilreplicate.delivery/x.png",
    "plain http delivery": "http://replicate.delivery/x.png",
    "credentials": "https://user:pw@replicate.delivery/x.png",
    "metadata endpoint": "http://169.254.169.254/latest/meta-data/",
    "loopback name": "https://localhost/x.png",
    "private address": "https://10.0.0.5/x.png",
    "file scheme": "file:///etc/passwd",
    "ftp scheme": "ftp://replicate.delivery/x.png",
    "javascript scheme": "javascript:alert(1)",
    "html data uri": "data:text/html;base64,PHNjcmlwdD4=",
    "jpeg labelled png": data_uri(jpeg_bytes(), "image/png"),
    "not an image": data_uri(b"MZ\x90\x00 this is not a png at all", "image/png"),
    "pixel bomb": data_uri(png_claiming(100_000, 100_000)),
    "text chunk bomb": data_uri(png_with_text_bomb()),
    "truncated png": data_uri(png_bytes(200, 200)[:70]),
    "two outputs": [data_uri(png_bytes()), data_uri(png_bytes())],
    "not a uri": {"url": "https://replicate.delivery/x.png"},
}


@pytest.mark.parametrize("output", list(HOSTILE.values()), ids=list(HOSTILE))
def test_given_a_hostile_output_when_the_prediction_succeeds_then_the_cell_fails_cleanly_and_nothing_is_stored(
    world: World, output: object
) -> None:
    world.connect()
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")

    outcome = deliver(world.repo, succeeded("p-1", output), recorded)

    cell = world.cell("b-1", "front_0")
    assert outcome == "failed"
    assert cell["status"] == "failed" and str(cell["error"]).startswith("output rejected:")
    assert world.keys() == [] and world.assets() == []
    assert [(token, error) for token, error, _ in world.sfn.failures] == [("tok-1", "PredictionFailed")]
    assert [u["status"] for u in world.job_updates()] == ["failed"]
    assert world.batch("b-1")["failedJobs"] == 1
