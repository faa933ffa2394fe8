"""`ApiClient`: the HTTP API of docs/ARCHITECTURE.md over httpx, one typed method per route.

Every failure becomes an `ApiError(status, code, message, field)`, parsed from the API's
`{"error": {"code", "message", "field"?}}` body when there is one. Presigned upload and
download URLs are fetched with a separate, header-free client: they carry their own signature
and must never see our bearer token or dev-user header.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

BASE = "/api/car/marketplace"
DEFAULT_API_URL = "http://127.0.0.1:3000"
USER_AGENT = "marketplace-cli/0.1"


class ApiError(Exception):
    """An HTTP or transport failure, fit to print: `status` is 0 when no answer came."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def __str__(self) -> str:
        where = f" [{self.field}]" if self.field else ""
        status = f"HTTP {self.status} " if self.status else ""
        return f"{status}{self.code}: {self.message}{where}"

    def __repr__(self) -> str:
        return f"ApiError(status={self.status!r}, code={self.code!r}, message={self.message!r}, field={self.field!r})"

    @classmethod
    def from_response(cls, status: int, body: bytes | str | None, reason: str = "") -> ApiError:
        """Parse `{"error": {...}}`; anything else (HTML, empty, plain JSON) still gives a message."""
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        data: Any = None
        try:
            data = json.loads(text) if text.strip() else None
        except ValueError:
            data = None
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = str(error.get("code") or "http_error")
            message = str(error.get("message") or reason or f"request failed ({status})")
            field = error.get("field")
            return cls(status, code, message, str(field) if field else None)
        if isinstance(error, str):
            return cls(status, "http_error", error)
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return cls(status, "http_error", data["message"])
        snippet = " ".join(text.split())[:200]
        message = f"request failed ({status}{' ' + reason if reason else ''})" + (f": {snippet}" if snippet else "")
        return cls(status, "http_error", message)


@dataclass(frozen=True)
class UploadSlot:
    upload_url: str
    headers: dict[str, str]
    source_image_url: str


def default_api_url() -> str:
    return os.environ.get("MARKETPLACE_API_URL") or DEFAULT_API_URL


class ApiClient:
    """Synchronous client; `with ApiClient(...) as api:` closes the connections."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        user: str | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = (base_url or default_api_url()).rstrip("/")
        self.token = token
        self.user = user
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if user:
            headers["X-Dev-User"] = user
        self._http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout, transport=transport)
        # Presigned URLs: no Authorization / X-Dev-User, redirects followed for public asset hosts.
        self._raw = httpx.Client(headers={"User-Agent": USER_AGENT}, timeout=timeout, transport=transport, follow_redirects=True)

    # -- plumbing --------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()
        self._raw.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> Any:
        try:
            response = self._http.request(method, path, json=json_body, headers=dict(headers or {}), params=params)
        except httpx.HTTPError as exc:
            raise ApiError(0, "network_error", f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response.status_code, response.content, response.reason_phrase)
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "bad_response", f"{method} {path}: answer is not JSON") from exc

    # -- routes ----------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        answer = self.request("GET", f"{BASE}/config")
        if not isinstance(answer, dict) or not isinstance(answer.get("websocketUrl"), str):
            raise ApiError(200, "bad_response", "the server's configuration has no websocketUrl")
        return answer

    def presets(self) -> dict[str, Any]:
        return self.request("GET", f"{BASE}/presets")

    def create_uploads(self, files: list[dict[str, Any]]) -> list[UploadSlot]:
        """`files`: `[{filename, contentType, size}]` → one slot per file, in order."""
        answer = self.request("POST", f"{BASE}/uploads", json_body={"files": files})
        slots = [
            UploadSlot(item["uploadUrl"], dict(item.get("headers") or {}), item["sourceImageUrl"]) for item in answer["uploads"]
        ]
        if len(slots) != len(files):
            raise ApiError(200, "bad_response", f"asked for {len(files)} upload slots, got {len(slots)}")
        return slots

    def put_upload(self, slot: UploadSlot, data: bytes) -> None:
        """PUT the raw bytes with exactly the headers the API returned (the signature binds them)."""
        try:
            response = self._raw.put(slot.upload_url, content=data, headers=slot.headers)
        except httpx.HTTPError as exc:
            raise ApiError(0, "network_error", f"upload failed: {exc}") from exc
        if response.status_code >= 300:
            raise ApiError.from_response(response.status_code, response.content, response.reason_phrase)

    def create_batch(
        self,
        source_image_urls: list[str],
        angles: list[str],
        colors: list[str],
        auto_colorize: bool = True,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "sourceImageUrls": source_image_urls,
            "angles": angles,
            "colors": colors,
            "autoColorize": auto_colorize,
        }
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return self.request("POST", f"{BASE}/batch", json_body=body, headers=headers)

    def get_batch(self, batch_id: str) -> dict[str, Any]:
        return self.request("GET", f"{BASE}/batch/{_segment(batch_id)}")

    def colorize(self, batch_id: str, colors: list[str], angles: list[str] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"colors": colors}
        if angles:
            body["angles"] = angles
        return self.request("POST", f"{BASE}/batch/{_segment(batch_id)}/colorize", json_body=body)

    def retry(self, batch_id: str, cells: list[tuple[str, str | None]] | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if cells:
            body["cells"] = [{"angleKey": angle, "colorKey": color} for angle, color in cells]
        return self.request("POST", f"{BASE}/batch/{_segment(batch_id)}/retry", json_body=body)

    def cancel(self, batch_id: str) -> dict[str, Any]:
        return self.request("POST", f"{BASE}/batch/{_segment(batch_id)}/cancel")

    def ws_ticket(self) -> dict[str, Any]:
        return self.request("POST", f"{BASE}/ws-ticket")

    def gallery(self, limit: int = 50, next_token: str | None = None) -> dict[str, Any]:
        params: dict[str, str | int] = {"limit": limit}
        if next_token:
            params["nextToken"] = next_token
        return self.request("GET", "/api/gallery", params=params)

    def list_batches(self, limit: int = 20, next_token: str | None = None) -> dict[str, Any]:
        """One page of the user's batches, newest first: `{items, nextToken}`."""
        params: dict[str, str | int] = {"limit": limit}
        if next_token:
            params["nextToken"] = next_token
        return self.request("GET", f"{BASE}/batches", params=params)

    def request_archive(self, batch_id: str) -> dict[str, Any]:
        """POST: the ZIP starts building (asking again while it builds changes nothing)."""
        return self.request("POST", f"{BASE}/batch/{_segment(batch_id)}/archive")

    def get_archive(self, batch_id: str) -> dict[str, Any]:
        """`{status: building|ready|failed, url?, bytes?, images?, error?}`."""
        return self.request("GET", f"{BASE}/batch/{_segment(batch_id)}/archive")

    def download_to(self, url: str, path: Path) -> int:
        """Stream a presigned URL to `path` (written beside it, then renamed); returns the bytes."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        total = 0
        try:
            with self._raw.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError.from_response(response.status_code, response.content, response.reason_phrase)
                with partial.open("wb") as handle:
                    for chunk in response.iter_bytes(1024 * 1024):
                        handle.write(chunk)
                        total += len(chunk)
            partial.replace(path)
        except httpx.HTTPError as exc:
            raise ApiError(0, "network_error", f"download failed: {exc}") from exc
        finally:
            partial.unlink(missing_ok=True)
        return total

    def download(self, url: str, max_bytes: int = 64 * 1024 * 1024) -> bytes:
        """GET a stored image (presigned or public URL) without our credentials."""
        try:
            with self._raw.stream("GET", url) as response:
                if response.status_code >= 400:
                    response.read()
                    raise ApiError.from_response(response.status_code, response.content, response.reason_phrase)
                chunks: list[bytes] = []
                total = 0
                for chunk in response.iter_bytes():
                    total += len(chunk)
                    if total > max_bytes:
                        raise ApiError(response.status_code, "too_large", f"image is larger than {max_bytes} bytes")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise ApiError(0, "network_error", f"download failed: {exc}") from exc


def _segment(value: str) -> str:
    """A path segment, percent-encoded (batch ids are URL-safe, but user input may not be)."""
    return quote(value, safe="")
