"""A fake S3 client with just what the ZIP streamer calls: multipart uploads and chunked GETs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError


class FakeBody:
    def __init__(self, data: bytes, cut_after: int | None = None) -> None:
        self._data, self._cut_after = data, cut_after

    def iter_chunks(self, size: int) -> Iterator[bytes]:
        sent = 0
        for start in range(0, len(self._data), size):
            if self._cut_after is not None and sent >= self._cut_after:
                raise ConnectionResetError("connection reset by peer")
            chunk = self._data[start : start + size]
            sent += len(chunk)
            yield chunk


class FakeS3:
    """`objects` are served by get_object (with Range); uploads are kept (`keep=True`) or only
    measured (part sizes and the running total), so a test can stream gigabytes through it."""

    def __init__(self, objects: dict[str, bytes] | None = None, keep: bool = True) -> None:
        self.objects = dict(objects or {})
        self.keep = keep
        self.part_sizes: list[int] = []
        self.completed: dict[str, bytes] = {}
        self.aborted: list[str] = []
        self.cuts: dict[str, int] = {}  # key -> bytes after which the first GET's body breaks
        self.gets: list[tuple[str, str | None]] = []
        self._parts: dict[int, bytes] = {}
        self._lock = threading.Lock()

    def create_multipart_upload(self, Bucket: str, Key: str, **kwargs: Any) -> dict[str, Any]:
        return {"UploadId": "upload-1"}

    def upload_part(self, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: bytes) -> dict[str, Any]:
        with self._lock:
            self.part_sizes.append(len(Body))
            if self.keep:
                self._parts[PartNumber] = bytes(Body)
        return {"ETag": f'"etag-{PartNumber}"'}

    def complete_multipart_upload(self, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any]) -> None:
        numbers = [part["PartNumber"] for part in MultipartUpload["Parts"]]
        assert numbers == list(range(1, len(numbers) + 1))
        if self.keep:
            self.completed[Key] = b"".join(self._parts[n] for n in numbers)
        else:
            self.completed[Key] = b""

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str) -> None:
        self.aborted.append(Key)

    def get_object(self, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:
        self.gets.append((Key, Range))
        if Key not in self.objects:
            raise ClientError({"Error": {"Code": "NoSuchKey", "Message": "missing"}}, "GetObject")
        data = self.objects[Key]
        offset = int(Range.removeprefix("bytes=").rstrip("-")) if Range else 0
        cut = self.cuts.pop(Key, None)
        return {"ContentLength": len(data) - offset, "Body": FakeBody(data[offset:], cut)}
