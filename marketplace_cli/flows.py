"""The multi-step flows shared by `batch create`, `batch colorize` and `demo`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import ApiClient
from .files import SourceFile, inspect_files
from .watch import BatchWatcher, Connector, Reporter, WatchState

Log = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def upload_sources(api: ApiClient, sources: list[SourceFile], log: Log = _quiet) -> list[str]:
    """Ask for one presigned PUT per file, PUT the raw bytes with exactly the returned headers."""
    slots = api.create_uploads([s.as_upload_request() for s in sources])

    def put(pair: tuple[SourceFile, Any]) -> str:
        source, slot = pair
        api.put_upload(slot, source.path.read_bytes())
        log(f"  uploaded {source.filename} ({source.content_type}, {source.size / 1024:.0f} KiB)")
        return str(slot.source_image_url)

    with ThreadPoolExecutor(max_workers=min(4, len(sources))) as pool:
        return list(pool.map(put, zip(sources, slots, strict=True)))


@dataclass
class CreateOutcome:
    batch: dict[str, Any]
    state: WatchState | None = None

    @property
    def batch_id(self) -> str:
        return str(self.batch["batchId"])


def create_batch(
    api: ApiClient,
    images: list[str | Path],
    angles: list[str],
    colors: list[str],
    *,
    auto_colorize: bool = True,
    idempotency_key: str | None = None,
    watch: bool = False,
    reporter: Reporter | None = None,
    timeout: float = 600.0,
    log: Log = _quiet,
    on_created: Callable[[dict[str, Any]], None] | None = None,
    connector: Connector | None = None,
    abort_check: Callable[[], str | None] | None = None,
) -> CreateOutcome:
    """Validate → upload → (open the WebSocket) → create → (follow). With `watch`, the socket is
    open before the batch exists, so its `marketplaceBatchCreated` cannot be missed."""
    config = api.config()
    max_files = int(config.get("maxSourceImages") or 16)
    max_bytes = int(config.get("maxUploadBytes") or 30 * 1024 * 1024)
    sources = inspect_files(list(images), max_files=max_files, max_bytes=max_bytes)
    source_urls = upload_sources(api, sources, log)

    def create() -> dict[str, Any]:
        batch = api.create_batch(source_urls, angles, colors, auto_colorize, idempotency_key)
        if on_created:
            on_created(batch)
        return batch

    if not watch:
        return CreateOutcome(create())

    async def run() -> CreateOutcome:
        watcher = BatchWatcher(
            api,
            str(config["websocketUrl"]),
            reporter=reporter,
            timeout=timeout,
            connector=connector,
            abort_check=abort_check,
        )
        async with watcher:
            batch = await asyncio.to_thread(create)
            state = await watcher.follow(str(batch["batchId"]), created_here=True)
            return CreateOutcome(batch, state)

    return asyncio.run(run())


def colorize_batch(
    api: ApiClient,
    batch_id: str,
    colors: list[str],
    angles: list[str] | None = None,
    *,
    watch: bool = False,
    reporter: Reporter | None = None,
    timeout: float = 600.0,
    connector: Connector | None = None,
) -> tuple[dict[str, Any], WatchState | None]:
    if not watch:
        return api.colorize(batch_id, colors, angles), None

    async def run() -> tuple[dict[str, Any], WatchState | None]:
        async with BatchWatcher(api, reporter=reporter, timeout=timeout, connector=connector) as watcher:
            answer = await asyncio.to_thread(api.colorize, batch_id, colors, angles)
            state = await watcher.follow(batch_id)  # finished angles show as "already done"
            return answer, state

    return asyncio.run(run())


def retry_batch(
    api: ApiClient,
    batch_id: str,
    cells: list[tuple[str, str | None]] | None = None,
    *,
    watch: bool = False,
    reporter: Reporter | None = None,
    timeout: float = 600.0,
    connector: Connector | None = None,
) -> tuple[dict[str, Any], WatchState | None]:
    """POST retry (the cells named, or every failed or canceled cell), then optionally follow the
    batch until it has its outcome again."""
    if not watch:
        return api.retry(batch_id, cells), None

    async def run() -> tuple[dict[str, Any], WatchState | None]:
        async with BatchWatcher(api, reporter=reporter, timeout=timeout, connector=connector) as watcher:
            answer = await asyncio.to_thread(api.retry, batch_id, cells)
            return answer, await watcher.follow(batch_id)

    return asyncio.run(run())
