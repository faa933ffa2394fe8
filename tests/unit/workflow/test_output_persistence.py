"""persist_output: data URIs, host allow-list, PNG checks, size and pixel bounds, S3 layout."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from workflow_testkit import BUCKET, World, data_uri, png_bytes

from marketplace import outputs
from marketplace.outputs import OutputRejected, check_output_url, persist_output

pytestmark = pytest.mark.unit


def png_header_claiming(width: int, height: int) -> bytes:
    """A syntactically valid PNG whose IHDR claims width x height (tiny IDAT)."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")


def test_given_a_png_data_uri_when_persisted_then_the_full_png_and_a_thumbnail_are_stored(world: World) -> None:
    original = png_bytes(1200, 800)
    stored = persist_output("b-1", "front_0", "red_metallic", data_uri(original))

    assert stored.image_key == "batches/b-1/front_0/red_metallic.png"
    assert stored.thumb_key == "batches/b-1/front_0/red_metallic.thumb.png"
    full = world.s3.get_object(Bucket=BUCKET, Key=stored.image_key)
    assert full["Body"].read() == original
    assert full["ContentType"] == "image/png"
    thumb = world.s3.get_object(Bucket=BUCKET, Key=stored.thumb_key)
    assert thumb["ContentType"] == "image/png"
    with Image.open(io.BytesIO(thumb["Body"].read())) as image:
        assert image.format == "PNG"
        assert max(image.size) == 512
        assert image.size == (512, 341)
    assert set(stored.timings) == {"download", "png_check", "thumbnail", "s3"}


def test_given_an_angle_output_in_a_one_element_list_when_persisted_then_it_is_stored_under_angle(world: World) -> None:
    stored = persist_output("b-1", "side_90", None, [data_uri(png_bytes(300, 200))])
    assert stored.image_key == "batches/b-1/side_90/angle.png"
    assert world.keys() == ["batches/b-1/side_90/angle.png", "batches/b-1/side_90/angle.thumb.png"]


def test_given_a_small_image_when_thumbnailed_then_it_is_not_enlarged(world: World) -> None:
    stored = persist_output("b-1", "front_0", None, data_uri(png_bytes(100, 60)))
    body = world.s3.get_object(Bucket=BUCKET, Key=stored.thumb_key)["Body"].read()
    with Image.open(io.BytesIO(body)) as image:
        assert image.size == (100, 60)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/out.png",
        "https://replicate.delivery.evil.com/out.png",
        "https://notreplicate.delivery/out.png",
        "http://replicate.delivery/out.png",
        "ftp://replicate.delivery/out.png",
        "https://user:pw@replicate.delivery/out.png",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.2:3100/out.png",
    ],
)
def test_given_an_output_on_a_host_we_do_not_trust_when_persisted_then_it_is_rejected_without_a_request(
    world: World, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "_session", lambda: pytest.fail("no request may be made"))
    with pytest.raises(OutputRejected):
        persist_output("b-1", "front_0", None, url)
    assert world.keys() == []


@pytest.mark.parametrize(
    "url",
    [
        "https://replicate.delivery/pbxt/abc/out.png",
        "https://pbxt.replicate.delivery/abc/out.png",
        "http://127.0.0.1:3100/files/out.png",
        "https://127.0.0.1/files/out.png",
    ],
)
def test_given_an_output_on_a_trusted_host_when_checked_then_it_is_allowed(url: str) -> None:
    check_output_url(url)


def test_given_an_extra_host_with_a_port_when_checked_then_only_that_port_is_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    from marketplace.config import get_settings

    monkeypatch.setenv("REPLICATE_OUTPUT_HOSTS", "localhost:3100")
    get_settings.cache_clear()
    check_output_url("http://localhost:3100/out.png")
    with pytest.raises(OutputRejected):
        check_output_url("http://localhost:3101/out.png")


def test_given_a_jpeg_when_persisted_then_it_is_rejected_as_not_png(world: World) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, format="JPEG")
    with pytest.raises(OutputRejected, match="not a PNG"):
        persist_output("b-1", "front_0", None, data_uri(buffer.getvalue(), "image/png"))
    assert world.keys() == []


def test_given_a_data_uri_of_another_media_type_when_persisted_then_it_is_rejected(world: World) -> None:
    with pytest.raises(OutputRejected, match="media type"):
        persist_output("b-1", "front_0", None, data_uri(png_bytes(), "image/jpeg"))


def test_given_a_png_claiming_a_gigantic_size_when_checked_then_it_is_rejected_as_a_bomb(world: World) -> None:
    with pytest.raises(OutputRejected, match="pixels"):
        persist_output("b-1", "front_0", None, data_uri(png_header_claiming(100_000, 100_000)))
    assert world.keys() == []


def test_given_a_png_just_over_the_pixel_limit_when_checked_then_it_is_rejected_before_decoding(world: World) -> None:
    with pytest.raises(OutputRejected, match="limit"):
        persist_output("b-1", "front_0", None, data_uri(png_header_claiming(8000, 5001)))


def test_given_a_truncated_png_when_checked_then_it_is_rejected(world: World) -> None:
    with pytest.raises(OutputRejected):
        persist_output("b-1", "front_0", None, data_uri(png_bytes(200, 200)[:60]))


def test_given_an_output_larger_than_the_cap_when_persisted_then_it_is_rejected(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "MAX_OUTPUT_BYTES", 10_000)
    with pytest.raises(OutputRejected, match="larger than"):
        persist_output("b-1", "front_0", None, data_uri(b"\x89PNG\r\n\x1a\n" + b"\0" * 20_000))


@pytest.mark.parametrize("output", [None, "", [], ["a", "b"], 42, "data:image/png;base64,@@@"])
def test_given_an_output_that_is_not_one_uri_when_persisted_then_it_is_rejected(world: World, output: object) -> None:
    with pytest.raises(OutputRejected):
        persist_output("b-1", "front_0", None, output)  # type: ignore[arg-type]
