"""Replicate's Files API, and the stand-in's "remote" mode (``STANDIN_REMOTE=1``).

Files, in Replicate's shapes (checked against the official client's ``replicate.file.File`` and
its recorded answers):

* ``POST /v1/files`` (``multipart/form-data``: the part ``content`` holds the bytes, with its
  filename and Content-Type; optional fields ``filename``, ``type`` and ``metadata``, a JSON
  object) → 201 ``{"id", "name", "content_type", "size", "etag", "checksums": {"sha256",
  "md5"}, "metadata", "created_at", "expires_at", "urls": {"get"}}``; files expire 24 h after
  creation, as on Replicate
* ``GET /v1/files`` → ``{"next", "previous", "results"}`` (newest first, one page)
* ``GET /v1/files/{id}`` → the file; ``DELETE /v1/files/{id}`` → 204
* ``GET /v1/files/{id}/download`` → the bytes (with the token)

A file's ``urls.get`` (``{api}/v1/files/{id}``) is usable as a prediction input, as on
Replicate: the stand-in resolves it from memory (Replicate resolves its own URLs internally, so
they need no public address and no token in the URL).

Remote mode plays the remote Replicate for a laptop: an input on a loopback, private,
link-local or otherwise non-public address (after DNS, and at every redirect) fails the
prediction ("Failed to download image from …"), as it would on Replicate, which cannot reach a
laptop; no webhook is sent (a laptop's webhook URL is not reachable either). The local stack
then learns completions by polling and hands its inputs over through this API.

Untrusted input gets a clear 4xx: a body that is not multipart (400), no ``content`` part or a
``metadata`` that is not a JSON object (422), more than ``max_input_bytes`` (413). Memory is
bounded: ``max_file_store_bytes`` in all, the oldest files dropped first.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import socket
import threading
import urllib.parse
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any

FILE_LIFETIME = timedelta(hours=24)
MAX_MULTIPART_OVERHEAD = 64 * 1024  # headers, boundaries and the small form fields
_FILE_PATH_PREFIX = "/v1/files/"


class FileRequestError(Exception):
    """An upload the API refuses: ``status`` and a message for the problem body."""

    def __init__(self, status: int, title: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.field = status, title, detail, field


class UnreachableInput(Exception):
    """Remote mode: an input URL Replicate could not fetch (not public, or not http(s))."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def new_file_id() -> str:
    """Replicate-like: base64 of a UUID, no padding."""
    return base64.urlsafe_b64encode(str(uuid.uuid4()).encode()).decode().rstrip("=")


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    content_type: str
    data: bytes
    metadata: dict[str, Any]
    created_at: datetime
    sha256: str = field(repr=False)
    md5: str = field(repr=False)

    @property
    def expires_at(self) -> datetime:
        return self.created_at + FILE_LIFETIME

    def to_json(self, api_base: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "content_type": self.content_type,
            "size": len(self.data),
            "etag": self.md5,
            "checksums": {"sha256": self.sha256, "md5": self.md5},
            "metadata": dict(self.metadata),
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "urls": {"get": f"{api_base.rstrip('/')}{_FILE_PATH_PREFIX}{self.id}"},
        }


@dataclass(frozen=True)
class Upload:
    """A parsed ``POST /v1/files`` body."""

    content: bytes
    filename: str
    content_type: str
    metadata: dict[str, Any]


def _boundary(content_type: str | None) -> bytes:
    message = Message()
    message["content-type"] = content_type or ""
    if message.get_content_type() != "multipart/form-data":
        raise FileRequestError(400, "Invalid request", "The body must be multipart/form-data with a content part.")
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > 200:
        raise FileRequestError(400, "Invalid request", "The multipart body has no usable boundary.")
    return boundary.encode("latin-1")


def _disposition(headers: bytes) -> tuple[str | None, str | None, str | None]:
    """(name, filename, Content-Type) of one part from its raw header block."""
    message = Message()
    for line in headers.split(b"\r\n"):
        header, colon, value = line.decode("utf-8", "replace").partition(":")
        if colon:
            message[header.strip()] = value.strip()
    name = message.get_param("name", header="content-disposition")
    filename = message.get_param("filename", header="content-disposition")
    content_type = message.get("content-type")
    return (
        name if isinstance(name, str) else None,
        filename if isinstance(filename, str) else None,
        str(content_type) if content_type else None,
    )


def parse_upload(content_type: str | None, body: bytes) -> Upload:
    """The ``content`` part (bytes, filename, type) and the optional form fields."""
    delimiter = b"\r\n--" + _boundary(content_type)
    sections = (b"\r\n" + body).split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise FileRequestError(400, "Invalid request", "The multipart body is not complete.")
    parts: dict[str, tuple[bytes, str | None, str | None]] = {}
    for section in sections[1:-1]:
        head, separator, payload = section.partition(b"\r\n\r\n")
        if not separator:
            raise FileRequestError(400, "Invalid request", "A multipart part has no header block.")
        part_name, filename, part_type = _disposition(head.lstrip(b" \t").removeprefix(b"\r\n"))
        if part_name and part_name not in parts:
            parts[part_name] = (payload, filename, part_type)
    if "content" not in parts:
        raise FileRequestError(422, "Input validation failed", "- content: a file part named content is required\n",
                               field="content")
    content, part_filename, part_type = parts["content"]

    def text(name: str) -> str | None:
        value = parts.get(name)
        return value[0].decode("utf-8", "replace").strip() if value else None

    metadata: dict[str, Any] = {}
    raw_metadata = text("metadata")
    if raw_metadata:
        try:
            parsed = json.loads(raw_metadata)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise FileRequestError(422, "Input validation failed", "- metadata: must be a JSON object\n",
                                   field="metadata")
        metadata = parsed
    filename = (text("filename") or part_filename or "file")[:255]
    content_type_value = (text("type") or part_type or "application/octet-stream")[:255]
    return Upload(content, filename, content_type_value, metadata)


def own_file_id(url: str, own_base: str) -> str | None:
    """The file id when ``url`` is this stand-in's ``{base}/v1/files/{id}`` (the host it
    answers on), else None."""
    parts, base = urllib.parse.urlsplit(url), urllib.parse.urlsplit(own_base)
    if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
        return None
    if not parts.path.startswith(_FILE_PATH_PREFIX):
        return None
    file_id = parts.path[len(_FILE_PATH_PREFIX) :]
    return file_id if file_id and "/" not in file_id else None


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_reachable(url: str) -> None:
    """Remote mode: raise ``UnreachableInput`` unless every address of the URL's host is public
    (what a remote service can reach). DNS is asked as Replicate would ask it."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnreachableInput("not an http(s) URL")
    host = parts.hostname
    try:
        addresses = [host] if _is_ip(host) else [
            info[4][0] for info in await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        ]
    except OSError as exc:
        raise UnreachableInput(f"cannot resolve {host} ({type(exc).__name__})") from None
    if not addresses or not all(_public(str(address)) for address in addresses):
        raise UnreachableInput(f"{host} is not a public address (Replicate cannot reach it)")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


class FileStore:
    """The uploaded files (in memory, bounded) and the counters ``GET /_standin/files`` shows."""

    def __init__(self, max_file_bytes: int, max_total_bytes: int) -> None:
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self._lock = threading.Lock()
        self._files: OrderedDict[str, StoredFile] = OrderedDict()
        self._bytes = 0
        self._counts = {"created": 0, "bytes_received": 0, "deleted": 0, "evicted": 0, "fetched_as_input": 0,
                        "refused_inputs": 0, "webhooks_not_sent": 0}

    def create(self, upload: Upload) -> StoredFile:
        if len(upload.content) > self.max_file_bytes:
            raise FileRequestError(413, "Payload too large", f"The file is larger than {self.max_file_bytes} bytes.",
                                   field="content")
        stored = StoredFile(
            id=new_file_id(), name=upload.filename, content_type=upload.content_type, data=upload.content,
            metadata=upload.metadata, created_at=datetime.now(UTC),
            sha256=hashlib.sha256(upload.content).hexdigest(), md5=hashlib.md5(upload.content).hexdigest(),  # noqa: S324 - Replicate's etag
        )  # fmt: skip
        with self._lock:
            self._files[stored.id] = stored
            self._bytes += len(stored.data)
            self._counts["created"] += 1
            self._counts["bytes_received"] += len(stored.data)
            while self._bytes > self.max_total_bytes and len(self._files) > 1:
                _, oldest = self._files.popitem(last=False)
                self._bytes -= len(oldest.data)
                self._counts["evicted"] += 1
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        with self._lock:
            stored = self._files.get(file_id)
        if stored is None or stored.expires_at <= datetime.now(UTC):
            return None
        return stored

    def list(self) -> list[StoredFile]:
        now = datetime.now(UTC)
        with self._lock:
            return [f for f in reversed(self._files.values()) if f.expires_at > now]

    def delete(self, file_id: str) -> bool:
        with self._lock:
            stored = self._files.pop(file_id, None)
            if stored is None:
                return False
            self._bytes -= len(stored.data)
            self._counts["deleted"] += 1
            return True

    def resolve(self, url: str, own_base: str) -> bytes | None:
        """An input URL naming one of these files → its bytes (counted); None for any other URL.
        A URL of ours naming no (or an expired) file raises ``UnreachableInput``."""
        file_id = own_file_id(url, own_base)
        if file_id is None:
            return None
        stored = self.get(file_id)
        if stored is None:
            raise UnreachableInput("no such file (deleted or expired)")
        self.count("fetched_as_input")
        return stored.data

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def report(self) -> dict[str, Any]:
        with self._lock:
            return {**self._counts, "files": len(self._files), "bytes_held": self._bytes}
