"""The ZIP streamer: S3 objects in chunks → ZIP_STORED → an S3 multipart upload, bounded memory."""

from __future__ import annotations

import io
import shutil
import subprocess
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from archive_fakes import FakeS3

from marketplace.archive import zipstream
from marketplace.archive.zipstream import Entry, ObjectChunks, ObjectMissing, S3MultipartSink, write_zip

pytestmark = pytest.mark.unit
MIB = 1024 * 1024


def _objects(count: int, size: int) -> dict[str, bytes]:
    return {f"batches/b/a{i}/c.png": bytes([i % 251]) * (size - 7) + f"{i:07d}".encode() for i in range(count)}


def _zip_from_s3(s3: FakeS3, keys: list[str], part_bytes: int = 5 * MIB, **reader: int) -> tuple[S3MultipartSink, int]:
    sink = S3MultipartSink(s3, "bucket", "out.zip", part_bytes=part_bytes)
    with zipstream.open_zip(sink) as archive:
        stats = zipstream.ZipStats()
        for key, size, chunks in ObjectChunks(s3, "bucket", keys, **reader):
            assert not isinstance(chunks, ObjectMissing)
            zipstream.add_entry(archive, Entry(key.replace("batches/b/", ""), lambda c=chunks: c, size), stats)
    return sink, sink.complete()


def _unzip_t(data: bytes, tmp_path: Path) -> str:
    target = tmp_path / "archive.zip"
    target.write_bytes(data)
    answer = subprocess.run(["unzip", "-t", str(target)], capture_output=True, text=True, check=False)
    assert answer.returncode == 0, answer.stdout + answer.stderr
    return answer.stdout


def test_given_objects_in_s3_when_zipped_through_a_multipart_upload_then_the_archive_is_valid_and_stored(tmp_path):
    s3 = FakeS3(_objects(12, 1 * MIB + 123))
    keys = sorted(s3.objects)

    sink, size = _zip_from_s3(s3, keys)

    data = s3.completed["out.zip"]
    assert size == len(data) == sink.bytes_written
    assert all(part >= 5 * MIB for part in s3.part_sizes[:-1]) and len(s3.part_sizes) == 3
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        infos = archive.infolist()
        assert [i.filename for i in infos] == [k.replace("batches/b/", "") for k in keys]
        assert {i.compress_type for i in infos} == {zipfile.ZIP_STORED}
        assert all(i.flag_bits & 0x08 for i in infos)  # sizes and CRC in a data descriptor (unseekable sink)
        assert archive.read("a7/c.png") == s3.objects["batches/b/a7/c.png"]
    if shutil.which("unzip"):
        assert "No errors detected" in _unzip_t(data, tmp_path)


def test_given_offsets_and_counts_past_the_zip64_limits_when_zipped_then_zip64_records_are_written_and_read(
    tmp_path, monkeypatch
):
    # The limits forced down: 2 GiB of offsets and 65,535 entries exercised with ~1 MB.
    monkeypatch.setattr(zipfile, "ZIP64_LIMIT", 300_000)
    monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 5)
    s3 = FakeS3(_objects(9, 200_000) | {"batches/b/big.png": b"\x89PNG" + b"x" * 400_000})
    keys = sorted(s3.objects)

    _zip_from_s3(s3, keys, part_bytes=256 * 1024)

    data = s3.completed["out.zip"]
    assert b"PK\x06\x06" in data[-200:] and b"PK\x06\x07" in data[-200:]  # ZIP64 end records
    monkeypatch.undo()  # read back with the real limits, as any reader would
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert len(archive.infolist()) == 10
        assert archive.read("big.png") == s3.objects["batches/b/big.png"]
        assert archive.getinfo("a8/c.png").header_offset > 300_000
    if shutil.which("unzip"):
        assert "No errors detected" in _unzip_t(data, tmp_path)


def test_given_many_entries_when_zipped_then_memory_stays_bounded_by_parts_and_read_ahead_not_by_the_archive():
    count, size, part = 400, 256 * 1024, 1 * MIB  # 100 MiB through the streamer
    s3 = FakeS3(_objects(count, size), keep=False)
    keys = sorted(s3.objects)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        _, written = _zip_from_s3(s3, keys, part_bytes=part, read_ahead=4, chunk_bytes=64 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written > count * size
    # parts in flight + the filling one (≤ 4 MiB), read-ahead queues (4 x 4 x 64 KiB), the central directory
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB for a {written / MIB:.0f} MiB archive"


def test_given_a_body_cut_midway_when_read_then_the_rest_comes_from_a_ranged_get():
    s3 = FakeS3({"k": bytes(range(256)) * 4096})  # 1 MiB
    s3.cuts["k"] = 256 * 1024

    [(_key, size, chunks)] = list((k, s, b"".join(c)) for k, s, c in ObjectChunks(s3, "b", ["k"], chunk_bytes=64 * 1024))

    assert chunks == s3.objects["k"] and size == len(s3.objects["k"])
    assert s3.gets == [("k", None), ("k", "bytes=262144-")]


def test_given_a_missing_object_when_read_then_it_is_reported_and_the_next_one_still_comes():
    s3 = FakeS3({"present": b"abc"})

    got = [(k, c if isinstance(c, ObjectMissing) else b"".join(c)) for k, _, c in ObjectChunks(s3, "b", ["gone", "present"])]

    assert isinstance(got[0][1], ObjectMissing) and got[1] == ("present", b"abc")


def test_given_a_failure_while_writing_when_aborted_then_the_upload_is_dropped():
    s3 = FakeS3()
    sink = S3MultipartSink(s3, "bucket", "out.zip", part_bytes=5 * MIB)

    def broken():
        yield b"x" * 1000
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        write_zip(sink, [Entry("a.png", broken, 2000)])
    sink.abort()

    assert s3.aborted == ["out.zip"] and "out.zip" not in s3.completed
