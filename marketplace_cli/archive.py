"""`batch archive ID [--out file.zip]`: ask the API for the batch's ZIP, wait until it is built
(polling `GET .../archive`), then stream it to a file (never whole in memory: a 30 x 40 batch is
about 2 GB). The ZIP holds every completed cell's PNG, `matrix.png` and `manifest.json`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .client import ApiClient, ApiError

POLL_SECONDS = 1.0


@dataclass(frozen=True)
class ArchiveResult:
    path: Path
    bytes: int
    images: int


def default_path(batch_id: str) -> Path:
    from .download import safe_part

    return Path("out") / f"batch-{safe_part(batch_id)}.zip"


def wait_ready(api: ApiClient, batch_id: str, timeout: float, poll: float = POLL_SECONDS,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    deadline = clock() + timeout
    while True:
        state = api.get_archive(batch_id)
        if state.get("status") == "ready":
            return state
        if state.get("status") == "failed":
            raise ApiError(200, "archive_failed", str(state.get("error") or "the archive could not be built"))
        if clock() >= deadline:
            raise ApiError(0, "timeout", f"the archive of {batch_id} was not ready within {timeout:.0f} s")
        sleep(poll)


def fetch_archive(api: ApiClient, batch_id: str, out: Path | None = None, *, timeout: float = 900.0,
                  poll: float = POLL_SECONDS, log: Callable[[str], None] | None = None) -> ArchiveResult:
    api.request_archive(batch_id)
    if log:
        log(f"building the archive of {batch_id}…")
    state = wait_ready(api, batch_id, timeout, poll)
    target = out or default_path(batch_id)
    size = api.download_to(str(state["url"]), target)
    expected = state.get("bytes")
    if isinstance(expected, int) and expected != size:
        raise ApiError(200, "bad_download", f"got {size} bytes of a {expected}-byte archive")
    return ArchiveResult(target, size, int(state.get("images") or 0))
