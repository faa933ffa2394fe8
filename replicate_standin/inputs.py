"""Fetching a prediction's input images (``image_input``) on the worker loop: data URIs, the
stand-in's own files, and other URLs (streamed, size-capped, at most ``max_downloads`` at once;
in remote mode every hop must be a public address).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import urllib.parse
from collections.abc import Callable

import httpx

from . import model as model_module
from .files import FileStore, UnreachableInput, check_reachable
from .settings import StandinSettings
from .worker import Gauge, _Worker, counted


def redact_url(url: str) -> str:
    """A URL fit for an error message: no query string (presigned URLs carry signatures)."""
    if url.startswith("data:"):
        return "data URI"
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class InputFetcher:
    """Downloads inputs for one store; failures raise ``model.ModelError`` (the prediction fails
    with that message). ``downloads`` is the store's gauge of downloads in flight."""

    def __init__(
        self,
        settings: StandinSettings,
        files: FileStore,
        worker: _Worker,
        client: Callable[[], httpx.AsyncClient],
        downloads: Gauge,
    ) -> None:
        self.settings = settings
        self.files = files
        self._worker = worker
        self._client = client
        self._downloads = downloads

    async def fetch(self, url: str) -> bytes:
        limit = self.settings.max_input_bytes
        shown = redact_url(url)
        if url.startswith("data:"):
            header, comma, payload = url[5:].partition(",")
            if not comma:
                raise model_module.ModelError("Failed to download image: malformed data URI")
            try:
                if header.endswith(";base64"):
                    data = base64.b64decode(payload, validate=False)
                else:
                    data = urllib.parse.unquote_to_bytes(payload)
            except (binascii.Error, ValueError) as exc:
                raise model_module.ModelError(f"Failed to download image: invalid data URI ({exc})") from exc
            if len(data) > limit:
                raise model_module.ModelError(f"Failed to download image from {shown}: larger than {limit} bytes")
            return data
        try:
            own = self.files.resolve(url, self.settings.output_base_url)
        except UnreachableInput as exc:
            raise model_module.ModelError(f"Failed to download image from {shown}: {exc}") from None
        if own is not None:
            return own
        remote = self.settings.remote
        try:
            async with self._download_slots(), counted(self._downloads):
                response = await self._open_input(url, remote)
                try:
                    return await self._read_input(response, shown, limit)
                finally:
                    await response.aclose()
        except UnreachableInput as exc:
            self.files.count("refused_inputs")
            raise model_module.ModelError(f"Failed to download image from {shown}: {exc}") from None
        except httpx.HTTPError as exc:
            raise model_module.ModelError(f"Failed to download image from {shown}: {type(exc).__name__} {exc}".rstrip()) from exc

    async def _open_input(self, url: str, remote: bool) -> httpx.Response:
        """A streamed GET of an input. In remote mode every hop (the URL and each redirect) must
        be a public address, as for a service that cannot reach this machine."""
        client = self._client()
        target = url
        for _hop in range(8):
            if remote:
                await check_reachable(target)
            request = client.build_request("GET", target, timeout=self.settings.fetch_timeout_seconds)
            response = await client.send(request, stream=True, follow_redirects=not remote)
            if not (remote and response.is_redirect and "location" in response.headers):
                return response
            await response.aclose()
            target = urllib.parse.urljoin(target, response.headers["location"])
        raise UnreachableInput("too many redirects")

    @staticmethod
    async def _read_input(response: httpx.Response, shown: str, limit: int) -> bytes:
        if response.status_code != 200:
            raise model_module.ModelError(f"Failed to download image from {shown}: HTTP {response.status_code}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise model_module.ModelError(f"Failed to download image from {shown}: larger than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _download_slots(self) -> asyncio.Semaphore:
        """At most ``max_downloads`` input downloads at once; the others wait for a slot (not
        for a pooled connection, which would time out). Worker loop only."""
        if self._worker.download_slots is None:
            self._worker.download_slots = asyncio.Semaphore(max(1, self.settings.max_downloads))
        return self._worker.download_slots
