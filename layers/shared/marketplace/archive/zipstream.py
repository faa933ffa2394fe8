"""A ZIP streamed from S3 objects to an S3 multipart upload, in bounded memory.

* `S3MultipartSink`: a write-only stream whose bytes go out as the parts of one multipart upload
  (`PART_BYTES` each, the last one shorter; S3 wants at least 5 MB but for the last). At most
  `UPLOADS_IN_FLIGHT` parts upload while the next one fills, so memory is about
  (`UPLOADS_IN_FLIGHT` + 1) x `PART_BYTES` whatever the archive's size. It has no `seek`, so
  `zipfile` writes each entry's CRC and sizes in a data descriptor after its data, and the
  central directory (ZIP64 records when an offset passes 2 GiB or there are more than 65,535
  entries: `zipfile` decides) at the end.
* `ObjectChunks`: the objects of an ordered list of keys, each read in `CHUNK_BYTES` chunks by a
  few threads ahead of the writer (at most `READ_AHEAD` objects, `QUEUED_CHUNKS` chunks each, in
  memory at once); a body cut mid-way is resumed with a ranged GET.
* `write_zip`: entries in, ZIP_STORED (PNGs are compressed already), out to any sink.

ZIP_STORED with data descriptors opens with `unzip`, Python's `zipfile`, 7-Zip, Windows Explorer
and macOS Archive Utility (they read the central directory); a reader that only streams the
local headers (Java's `ZipInputStream`) cannot size a stored entry that way.
"""

from __future__ import annotations

import queue
import threading
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

MIB = 1024 * 1024
PART_BYTES = 8 * MIB  # x 10,000 parts = 80 GB, far above any batch
MIN_PART_BYTES = 5 * MIB
UPLOADS_IN_FLIGHT = 2
CHUNK_BYTES = 1 * MIB
READ_AHEAD = 6
QUEUED_CHUNKS = 4
READ_ATTEMPTS = 3
_PUT_TIMEOUT_SECONDS = 0.5


class S3MultipartSink:
    """`write()` bytes; `complete()` finishes the upload (`abort()` drops it). Not seekable."""

    def __init__(self, client: Any, bucket: str, key: str, *, content_type: str = "application/zip",
                 content_disposition: str | None = None, part_bytes: int = PART_BYTES,
                 in_flight: int = UPLOADS_IN_FLIGHT) -> None:
        self._client, self._bucket, self._key = client, bucket, key
        self._part_bytes = part_bytes
        extra = {"ContentDisposition": content_disposition} if content_disposition else {}
        self._upload_id: str = client.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType=content_type, **extra)["UploadId"]
        self._buffer = bytearray()
        self._written = 0
        self._parts: list[Future[dict[str, Any]]] = []
        self._slots = threading.BoundedSemaphore(in_flight)
        self._pool = ThreadPoolExecutor(max_workers=in_flight, thread_name_prefix="zip-part")
        self._closed = False

    # The file protocol zipfile uses: write, tell, flush (no seek: data descriptors).
    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a finished upload")
        self._buffer += data
        self._written += len(data)
        while len(self._buffer) >= self._part_bytes:
            part = bytes(self._buffer[: self._part_bytes])
            del self._buffer[: self._part_bytes]
            self._send(part)
        return len(data)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        """Parts go out as they fill; the rest goes with `complete()`."""

    @property
    def bytes_written(self) -> int:
        return self._written

    @property
    def parts(self) -> int:
        return len(self._parts)

    def _send(self, data: bytes) -> None:
        self._slots.acquire()  # at most `in_flight` parts waiting or uploading: bounded memory
        number = len(self._parts) + 1
        for done in self._parts:  # surface a failed part at once rather than at the end
            if done.done() and done.exception() is not None:
                self._slots.release()
                raise done.exception()  # type: ignore[misc]
        self._parts.append(self._pool.submit(self._upload_part, number, data))

    def _upload_part(self, number: int, data: bytes) -> dict[str, Any]:
        try:
            answer = self._client.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                              PartNumber=number, Body=data)
            return {"PartNumber": number, "ETag": answer["ETag"]}
        finally:
            self._slots.release()

    def complete(self) -> int:
        """Sends the last part, completes the upload; returns the object's size in bytes."""
        if self._buffer or not self._parts:
            self._send(bytes(self._buffer))
            self._buffer = bytearray()
        self._closed = True
        try:
            parts = [future.result() for future in self._parts]
        finally:
            self._pool.shutdown(wait=True)
        self._client.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id,
                                               MultipartUpload={"Parts": parts})
        return self._written

    def abort(self) -> None:
        self._closed = True
        self._buffer = bytearray()
        self._pool.shutdown(wait=True, cancel_futures=True)
        try:
            self._client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id)
        except Exception:
            return


class ObjectMissing(Exception):
    """The object could not be read at all (no bytes of it were handed out)."""


@dataclass
class _Reading:
    key: str
    chunks: queue.Queue[Any] = field(default_factory=lambda: queue.Queue(maxsize=QUEUED_CHUNKS))
    size: int | None = None
    sized: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_END = object()


class ObjectChunks:
    """`for key, size, chunks in ObjectChunks(client, bucket, keys)`: each object in order, its
    size (S3's ContentLength) and an iterator of its bytes; a few objects are read ahead."""

    def __init__(self, client: Any, bucket: str, keys: list[str], *, read_ahead: int = READ_AHEAD,
                 chunk_bytes: int = CHUNK_BYTES) -> None:
        self._client, self._bucket, self._keys = client, bucket, keys
        self._read_ahead, self._chunk_bytes = max(1, read_ahead), chunk_bytes
        self._stop = threading.Event()

    def __iter__(self) -> Iterator[tuple[str, int | None, Iterator[bytes] | ObjectMissing]]:
        readings: dict[int, _Reading] = {}
        with ThreadPoolExecutor(max_workers=self._read_ahead, thread_name_prefix="zip-read") as pool:
            try:
                for index, key in enumerate(self._keys):
                    for ahead in range(index, min(index + self._read_ahead, len(self._keys))):
                        if ahead not in readings:
                            readings[ahead] = _Reading(self._keys[ahead])
                            pool.submit(self._read, readings[ahead])
                    reading = readings.pop(index)
                    reading.sized.wait()
                    if reading.error is not None:
                        yield key, None, ObjectMissing(f"{key}: {reading.error}")
                        continue
                    yield key, reading.size, self._drain(reading)
            finally:
                self._stop.set()

    def _drain(self, reading: _Reading) -> Iterator[bytes]:
        while True:
            item = reading.chunks.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def _put(self, reading: _Reading, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                reading.chunks.put(item, timeout=_PUT_TIMEOUT_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def _read(self, reading: _Reading) -> None:
        offset, attempt = 0, 0
        while not self._stop.is_set():
            attempt += 1
            try:
                extra = {"Range": f"bytes={offset}-"} if offset else {}
                answer = self._client.get_object(Bucket=self._bucket, Key=reading.key, **extra)
                if not reading.sized.is_set():
                    reading.size = int(answer.get("ContentLength") or 0)
                    reading.sized.set()
                for chunk in answer["Body"].iter_chunks(self._chunk_bytes):
                    if not chunk:
                        continue
                    if not self._put(reading, chunk):
                        return
                    offset += len(chunk)
                self._put(reading, _END)
                return
            except Exception as error:
                if attempt < READ_ATTEMPTS and _retryable(error):
                    continue
                if not reading.sized.is_set():
                    reading.error = error
                    reading.sized.set()
                else:
                    self._put(reading, error)
                return


def _retryable(error: BaseException) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code") if hasattr(error, "response") else None
    return code not in ("NoSuchKey", "404", "AccessDenied", "403")


@dataclass(frozen=True)
class Entry:
    """One file of the archive: `chunks()` yields its bytes; `size` (when known) decides ZIP64."""

    name: str
    chunks: Callable[[], Iterable[bytes]]
    size: int | None = None
    date_time: tuple[int, int, int, int, int, int] = (1980, 1, 1, 0, 0, 0)


@dataclass
class ZipStats:
    entries: int = 0
    data_bytes: int = 0
    names: list[str] = field(default_factory=list)


def add_entry(archive: zipfile.ZipFile, entry: Entry, stats: ZipStats) -> None:
    info = zipfile.ZipInfo(entry.name, date_time=entry.date_time)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    if entry.size is not None:
        info.file_size = entry.size  # a known size over ZIP64_LIMIT gets a ZIP64 local header
    with archive.open(info, "w", force_zip64=entry.size is None) as out:
        for chunk in entry.chunks():
            out.write(chunk)
            stats.data_bytes += len(chunk)
    stats.entries += 1
    stats.names.append(entry.name)


def open_zip(sink: Any) -> zipfile.ZipFile:
    """A ZipFile writing to an unseekable sink (data descriptors; ZIP64 where needed)."""
    return zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True)


def write_zip(sink: Any, entries: Iterable[Entry]) -> ZipStats:
    stats = ZipStats()
    with open_zip(sink) as archive:
        for entry in entries:
            add_entry(archive, entry, stats)
    return stats
