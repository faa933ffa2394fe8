"""Follow a batch live over the WebSocket, as the web app does.

Three layers, so the logic is testable without sockets:

* `WatchState`: a pure state machine fed with WebSocket messages and snapshots. Each cell is
  counted once, its status only moves forward (`queued → processing → completed | failed`,
  a terminal cell never changes) and other batches' events are ignored.
* `TextReporter`: a plain-text progress bar (`[#####.....] 3/6`, redrawn with `\\r` on a TTY,
  one line per change otherwise) and one line per cell as it lands.
* `BatchWatcher`: the socket. Open it (fresh ticket → `websocketUrl?ticket=`) *before*
  creating a batch so `marketplaceBatchCreated` cannot be missed (messages queue up until
  `follow()` runs), then `follow(batchId)`: subscribe (the server replays the cells), read the
  snapshot (`totalJobs`), and consume events until every cell is terminal or
  `marketplaceBatchCompleted` arrives. A dropped socket is reopened with a fresh ticket, the
  batch re-subscribed and the snapshot re-read; a quiet socket triggers a snapshot re-read too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO
from urllib.parse import quote, urlsplit

from marketplace.statuses import TERMINAL as CELL_TERMINAL
from marketplace.statuses import CellStatus

from .client import ApiClient, ApiError

JOB_UPDATED = "marketplaceJobUpdated"
BATCH_CREATED = "marketplaceBatchCreated"
BATCH_COMPLETED = "marketplaceBatchCompleted"

RANK = {str(status): status.rank for status in CellStatus}
TERMINAL = frozenset(str(status) for status in CELL_TERMINAL)

CellKey = tuple[str, str | None]
TIMES = "\u00d7"  # the multiplication sign between angle and colour


def cell_name(angle_key: str, color_key: str | None) -> str:
    return f"{angle_key} {TIMES} {color_key}" if color_key else angle_key


@dataclass
class CellState:
    type: str
    angle_key: str
    color_key: str | None
    status: str
    image_url: str | None = None
    thumb_url: str | None = None
    error: str | None = None
    first_seen: float = 0.0
    processing_since: float | None = None
    landed_at: float | None = None
    attempt: int = 1  # a retried or regenerated cell starts again as its next attempt
    color_check: dict[str, Any] | None = None  # a completed colour cell's {target, measured, deltaE, verdict}

    @property
    def key(self) -> CellKey:
        return (self.angle_key, self.color_key)

    @property
    def name(self) -> str:
        return cell_name(self.angle_key, self.color_key)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Landed:
    """A cell that just became terminal (emitted exactly once per cell)."""

    cell: CellState
    at: float  # seconds since the watch started
    duration: float | None  # processing → terminal, when the processing step was seen
    already: bool  # it was terminal the first time this watch saw it (an old batch)


@dataclass
class WatchState:
    """Everything known about one batch; `apply_*` return the cells that landed."""

    batch_id: str
    clock: Callable[[], float] = time.monotonic
    created_here: bool = False  # the batch was created after the watch began
    total_jobs: int | None = None
    cells: dict[CellKey, CellState] = field(default_factory=dict)
    batch_completed: bool = False
    snapshot_status: str | None = None
    angles: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    ignored: int = 0  # messages of other batches or of unknown shape
    synced: bool = False  # a snapshot has been applied at least once
    started: float = 0.0

    def __post_init__(self) -> None:
        self.started = self.clock()

    # -- counts ----------------------------------------------------------------------------

    @property
    def terminal_count(self) -> int:
        return sum(1 for c in self.cells.values() if c.terminal)

    @property
    def completed_count(self) -> int:
        return sum(1 for c in self.cells.values() if c.status == "completed")

    @property
    def failed_count(self) -> int:
        return sum(1 for c in self.cells.values() if c.status == "failed")

    @property
    def canceled_count(self) -> int:
        return sum(1 for c in self.cells.values() if c.status == "canceled")

    @property
    def processing_count(self) -> int:
        return sum(1 for c in self.cells.values() if c.status == "processing")

    @property
    def failed_cells(self) -> list[CellState]:
        return [c for c in self.ordered_cells() if c.status == "failed"]

    @property
    def pending_cells(self) -> list[CellState]:
        return [c for c in self.ordered_cells() if not c.terminal]

    @property
    def all_terminal(self) -> bool:
        known_total = self.total_jobs if self.total_jobs is not None else None
        if known_total is None or known_total <= 0:
            return False
        return self.terminal_count >= known_total and not self.pending_cells

    @property
    def done(self) -> bool:
        return self.all_terminal or self.batch_completed

    def ordered_cells(self) -> list[CellState]:
        """Angles in batch order, each followed by its colours in batch order."""
        angle_index = {a: i for i, a in enumerate(self.angles)}
        color_index = {c: i for i, c in enumerate(self.colors)}
        big = 1 << 30

        def sort_key(cell: CellState) -> tuple[int, str, int, int, str]:
            return (
                angle_index.get(cell.angle_key, big),
                cell.angle_key,
                0 if cell.color_key is None else 1,
                color_index.get(cell.color_key or "", big),
                cell.color_key or "",
            )

        return sorted(self.cells.values(), key=sort_key)

    # -- inputs ----------------------------------------------------------------------------

    def apply_message(self, message: Any) -> list[Landed]:
        """One WebSocket message `{"type", "data"}`; anything not about this batch is ignored."""
        if not isinstance(message, dict):
            self.ignored += 1
            return []
        kind, data = message.get("type"), message.get("data")
        if not isinstance(data, dict) or data.get("batchId") != self.batch_id:
            self.ignored += 1
            return []
        if kind == BATCH_CREATED:
            self._grow_total(data.get("totalJobs"))
            self._learn_order(data.get("angles"), data.get("colors"))
            return []
        if kind == BATCH_COMPLETED:
            self.batch_completed = True
            return []
        if kind == JOB_UPDATED:
            landed = self._update(data.get("result"), live=True)
            return [landed] if landed else []
        self.ignored += 1
        return []

    def apply_snapshot(self, snapshot: dict[str, Any]) -> list[Landed]:
        """`GET /batch/{id}`: the authoritative total and every cell (merged forward-only)."""
        if snapshot.get("batchId") not in (None, self.batch_id):
            return []
        self._grow_total(snapshot.get("totalJobs"))
        self._learn_order(snapshot.get("angles"), snapshot.get("colors"))
        self.snapshot_status = snapshot.get("status")
        first = not self.synced
        self.synced = True
        landed = [
            event
            for result in snapshot.get("cells") or []
            if (event := self._update(result, live=not first or self.created_here))
        ]
        # A completion message from before a later colourise: the batch has open cells again.
        if any(isinstance(c, dict) and c.get("status") not in TERMINAL for c in snapshot.get("cells") or []):
            self.batch_completed = False
        return landed

    # -- internals -------------------------------------------------------------------------

    def _grow_total(self, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            self.total_jobs = value if self.total_jobs is None else max(self.total_jobs, value)

    def _learn_order(self, angles: Any, colors: Any) -> None:
        if isinstance(angles, list) and len(angles) >= len(self.angles):
            self.angles = [str(a) for a in angles]
        if isinstance(colors, list) and len(colors) >= len(self.colors):
            self.colors = [str(c) for c in colors]

    def _update(self, result: Any, *, live: bool) -> Landed | None:
        if not isinstance(result, dict):
            self.ignored += 1
            return None
        status, angle_key = result.get("status"), result.get("angleKey")
        if status not in RANK or not isinstance(angle_key, str):
            self.ignored += 1
            return None
        color_key = result.get("colorKey") or None
        kind = result.get("type") or ("color" if color_key else "angle")
        now = self.clock()
        key = (angle_key, color_key)
        attempt = result.get("attempt")
        attempt = attempt if isinstance(attempt, int) and not isinstance(attempt, bool) and attempt >= 1 else 1
        cell = self.cells.get(key)
        first_sight = cell is None
        if cell is not None and attempt < cell.attempt:
            return None  # a report about an earlier attempt of a retried cell
        if cell is None or attempt > cell.attempt:
            # A new attempt is a new run of the cell: it may leave its terminal status, once.
            cell = CellState(kind, angle_key, color_key, "queued", first_seen=now, attempt=attempt,
                             image_url=cell.image_url if cell else None, thumb_url=cell.thumb_url if cell else None)
            self.cells[key] = cell
        if cell.terminal:
            # Terminal never changes; only refresh re-signed URLs of the same outcome.
            if status == cell.status:
                cell.image_url = result.get("imageUrl") or cell.image_url
                cell.thumb_url = result.get("thumbUrl") or cell.thumb_url
            return None
        if RANK[status] < RANK[cell.status]:
            return None  # late or reordered: never go backwards
        if status == "processing" and cell.processing_since is None:
            cell.processing_since = now
        cell.status = status
        cell.image_url = result.get("imageUrl") or cell.image_url
        cell.thumb_url = result.get("thumbUrl") or cell.thumb_url
        if isinstance(result.get("colorCheck"), dict):
            cell.color_check = result["colorCheck"]
        if result.get("error"):
            cell.error = str(result["error"])
        if status not in TERMINAL:
            return None
        cell.landed_at = now
        duration = now - cell.processing_since if cell.processing_since is not None else None
        return Landed(cell, now - self.started, duration, already=first_sight and not live)


# -- output -------------------------------------------------------------------------------


class Reporter(Protocol):
    def info(self, text: str) -> None: ...
    def landed(self, event: Landed, state: WatchState) -> None: ...
    def progress(self, state: WatchState) -> None: ...
    def finish(self, state: WatchState) -> None: ...


class SilentReporter:
    """For `--json`: nothing while following, the caller prints the summary."""

    def info(self, text: str) -> None:
        pass

    def landed(self, event: Landed, state: WatchState) -> None:
        pass

    def progress(self, state: WatchState) -> None:
        pass

    def finish(self, state: WatchState) -> None:
        pass


def progress_bar(done: int, total: int | None, width: int = 24) -> str:
    if not total:
        return f"[{'.' * width}] {done}/?"
    filled = min(width, round(width * done / total))
    return f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"


def progress_text(state: WatchState, width: int = 24) -> str:
    text = progress_bar(state.terminal_count, state.total_jobs, width)
    extra = []
    if state.processing_count:
        extra.append(f"{state.processing_count} running")
    if state.failed_count:
        extra.append(f"{state.failed_count} failed")
    if state.canceled_count:
        extra.append(f"{state.canceled_count} canceled")
    return text + (f"  ({', '.join(extra)})" if extra else "")


def landed_text(event: Landed, name_width: int = 30) -> str:
    cell = event.cell
    if event.already:
        timing = "(already done)"
    elif event.duration is not None:
        timing = f"{event.duration:5.1f}s  (at +{event.at:.1f}s)"
    else:
        timing = f"{event.at:5.1f}s"
    line = f"  {cell.name:<{name_width}}  {cell.status:<9}  {timing}"
    if cell.status == "failed" and cell.error:
        line += f"  {cell.error}"
    if cell.status == "completed" and cell.color_check:
        line += f"  {check_text(cell.color_check)}"
    return line


def check_text(check: dict[str, Any]) -> str:
    """A colour cell's check in words: "paint ok ΔE 0.7", "paint OFF ΔE 26.4 (asked #c00000, got
    #9d572a)", "paint unchecked"."""
    verdict, delta_e = check.get("verdict"), check.get("deltaE")
    measure = f" ΔE {delta_e:.1f}" if isinstance(delta_e, int | float) and not isinstance(delta_e, bool) else ""
    if verdict == "ok":
        return f"paint ok{measure}"
    if verdict == "off":
        return f"paint OFF{measure} (asked {check.get('target')}, got {check.get('measured')})"
    return "paint unchecked"


class TextReporter:
    """Human output: a bar (redrawn in place on a TTY) and one line per landed cell."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None, bar_width: int = 24) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.bar_width = bar_width
        self._bar_shown = ""
        self._last_progress = ""

    def _clear_bar(self) -> None:
        if self.tty and self._bar_shown:
            self.stream.write("\r" + " " * len(self._bar_shown) + "\r")
            self._bar_shown = ""

    def _line(self, text: str, redraw: bool = True) -> None:
        self._clear_bar()
        self.stream.write(text + "\n")
        if redraw and self.tty and self._last_progress:
            self._draw(self._last_progress)
        self.stream.flush()

    def _draw(self, text: str) -> None:
        pad = max(0, len(self._bar_shown) - len(text))
        self.stream.write("\r" + text + " " * pad)
        self._bar_shown = text

    def info(self, text: str) -> None:
        self._line(text)

    def landed(self, event: Landed, state: WatchState) -> None:
        self._line(landed_text(event), redraw=False)  # progress() follows at once

    def progress(self, state: WatchState) -> None:
        text = progress_text(state, self.bar_width)
        if text == self._last_progress and (self._bar_shown or not self.tty):
            return
        self._last_progress = text
        if self.tty:
            self._draw(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, state: WatchState) -> None:
        if self.tty and self._bar_shown:
            self.stream.write("\n")
            self._bar_shown = ""
        self.stream.flush()


# -- the socket ---------------------------------------------------------------------------


class WatchError(Exception):
    """Following failed (timeout, socket unusable, API error); the message says why."""


@dataclass(frozen=True)
class _Disconnected:
    socket: Any
    reason: str


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def ticket_url(websocket_url: str, ticket: str) -> str:
    sep = "&" if "?" in websocket_url else "?"
    return f"{websocket_url}{sep}ticket={quote(ticket, safe='')}"


Connector = Callable[[str], Any]  # url -> awaitable connection (async iterable, send(), close())


def _default_connector(url: str) -> Any:
    from websockets.asyncio.client import connect

    return connect(
        url,
        open_timeout=10,
        ping_interval=20,
        ping_timeout=20,
        close_timeout=2,
        max_size=1 << 20,
        proxy=None if _is_loopback(url) else True,
    )


class BatchWatcher:
    """`async with BatchWatcher(api) as w: ...create the batch...; state = await w.follow(id)`."""

    def __init__(
        self,
        api: ApiClient,
        websocket_url: str | None = None,
        *,
        reporter: Reporter | None = None,
        timeout: float = 600.0,
        resync_seconds: float = 10.0,
        connector: Connector | None = None,
        max_backoff: float = 5.0,
        reconnect_window: float = 60.0,
        abort_check: Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.websocket_url = websocket_url
        self.reporter: Reporter = reporter or SilentReporter()
        self.timeout = timeout
        self.resync_seconds = resync_seconds
        self.connector = connector or _default_connector
        self.max_backoff = max_backoff
        self.reconnect_window = reconnect_window
        self.abort_check = abort_check
        self.clock = clock
        self.reconnects = 0
        self._socket: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._batch_id: str | None = None
        self._opened_at: float | None = None

    async def __aenter__(self) -> BatchWatcher:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.to_thread(fn, *args)

    async def open(self) -> None:
        """Connect now (before the batch exists): every message from here on is kept."""
        self._opened_at = self.clock()
        if self.websocket_url is None:
            config = await self._call(self.api.config)
            self.websocket_url = str(config["websocketUrl"])
        await self._connect()

    async def close(self) -> None:
        socket, self._socket = self._socket, None
        if socket is not None:
            with contextlib.suppress(Exception):
                await socket.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
            self._reader = None

    async def _connect(self) -> None:
        answer = await self._call(self.api.ws_ticket)
        ticket = answer.get("ticket") if isinstance(answer, dict) else None
        if not ticket:
            raise WatchError("the API gave no WebSocket ticket")
        assert self.websocket_url is not None
        socket = await self.connector(ticket_url(self.websocket_url, str(ticket)))
        old, self._socket = self._socket, socket
        if old is not None:
            with contextlib.suppress(Exception):
                await old.close()
        self._reader = asyncio.create_task(self._read(socket))

    async def _read(self, socket: Any) -> None:
        reason = "closed"
        try:
            async for raw in socket:
                try:
                    message = json.loads(raw)
                except (TypeError, ValueError):
                    continue
                self._queue.put_nowait(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
        self._queue.put_nowait(_Disconnected(socket, reason))

    async def _subscribe(self) -> None:
        if self._socket is None or self._batch_id is None:
            return
        with contextlib.suppress(Exception):  # a dead socket shows up as _Disconnected
            await self._socket.send(json.dumps({"action": "subscribe", "batchId": self._batch_id}))

    def _check_abort(self) -> None:
        reason = self.abort_check() if self.abort_check else None
        if reason:
            raise WatchError(reason)

    async def _reconnect(self, deadline: float, reason: str) -> None:
        """Fresh ticket + new socket, with backoff and jitter; gives up after `reconnect_window`
        seconds of failures (or at the deadline, or when `abort_check` says why)."""
        self.reconnects += 1
        self.reporter.info(f"  connection lost ({reason}); reconnecting...")
        give_up = min(deadline, self.clock() + self.reconnect_window)
        attempt = 0
        while True:
            self._check_abort()
            try:
                await self._connect()
                break
            except ApiError as exc:
                if 400 <= exc.status < 500 and exc.status not in (408, 429):
                    raise WatchError(f"cannot get a WebSocket ticket: {exc}") from exc
                error: Exception = exc
            except Exception as exc:  # refused, timed out, handshake rejected (InvalidStatus)...
                error = exc
            attempt += 1
            ceiling = min(self.max_backoff, 0.25 * 2**attempt)
            delay = ceiling / 2 + random.random() * ceiling / 2
            if self.clock() + delay > give_up:
                raise WatchError(f"could not reconnect the WebSocket: {error}")
            await asyncio.sleep(delay)
        self.reporter.info("  reconnected")

    def _emit(self, state: WatchState, landed: list[Landed]) -> None:
        for event in landed:
            self.reporter.landed(event, state)
        self.reporter.progress(state)

    async def _resync(self, state: WatchState) -> None:
        snapshot = await self._call(self.api.get_batch, state.batch_id)
        self._emit(state, state.apply_snapshot(snapshot))

    async def follow(self, batch_id: str, *, created_here: bool = False) -> WatchState:
        """Consume events until the batch is done; raises `WatchError` on timeout."""
        if self._socket is None:
            await self.open()
        self._batch_id = batch_id
        state = WatchState(batch_id, clock=self.clock, created_here=created_here)
        if created_here and self._opened_at is not None:
            state.started = self._opened_at
        deadline = self.clock() + self.timeout
        await self._subscribe()
        try:
            await self._resync(state)
            while not state.done:
                remaining = deadline - self.clock()
                if remaining <= 0:
                    pending = ", ".join(c.name for c in state.pending_cells) or "unknown cells"
                    raise WatchError(f"timed out after {self.timeout:g}s waiting for {pending}")
                self._check_abort()
                try:
                    item = await asyncio.wait_for(self._queue.get(), min(remaining, self.resync_seconds))
                except TimeoutError:
                    await self._resync(state)  # a quiet socket: make sure nothing was missed
                    continue
                if isinstance(item, _Disconnected):
                    if item.socket is self._socket:
                        await self._reconnect(deadline, item.reason)
                        await self._subscribe()
                        await self._resync(state)
                    continue
                self._emit(state, state.apply_message(item))
                if state.batch_completed:
                    await self._resync(state)  # fills cells a dropped message hid; clears a stale one
            with contextlib.suppress(ApiError):
                await self._resync(state)  # final, re-signed URLs for the download
        except ApiError as exc:
            raise WatchError(str(exc)) from exc
        finally:
            self.reporter.finish(state)
        return state


def exit_code(state: WatchState) -> int:
    """0 all completed, 2 some cell failed or was canceled, 1 not finished."""
    if state.failed_count or state.canceled_count:
        return 2
    return 0 if state.done and not state.pending_cells else 1


def summary(state: WatchState) -> dict[str, Any]:
    return {
        "batchId": state.batch_id,
        "totalJobs": state.total_jobs,
        "completedJobs": state.completed_count,
        "failedJobs": state.failed_count,
        "canceledJobs": state.canceled_count,
        "done": state.done,
        "cells": [
            {
                "type": c.type,
                "angleKey": c.angle_key,
                "colorKey": c.color_key,
                "status": c.status,
                "imageUrl": c.image_url,
                "error": c.error,
            }
            for c in state.ordered_cells()
        ],
    }


def watch_batch(
    api: ApiClient,
    batch_id: str,
    *,
    reporter: Reporter | None = None,
    timeout: float = 600.0,
    websocket_url: str | None = None,
) -> WatchState:
    """Synchronous entry point for `batch watch`."""

    async def run() -> WatchState:
        async with BatchWatcher(api, websocket_url, reporter=reporter, timeout=timeout) as watcher:
            return await watcher.follow(batch_id)

    return asyncio.run(run())
