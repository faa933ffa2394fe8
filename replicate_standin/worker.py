"""The stand-in's background worker: an asyncio loop in a daemon thread, and the work on it.

Background work (the prediction lifecycle, image fetching, webhook delivery) runs on the
store's own asyncio loop in a daemon thread ("replicate-standin-worker"), never on the loop
that serves HTTP. So the stand-in behaves the same under uvicorn, under uvicorn in a thread,
and under starlette's TestClient (whose loop lives only as long as a request when it is not
used as a context manager), and ``wait_idle()`` can block any other thread safely. The
Pillow work runs in a small thread pool (``generation_workers``) so neither loop blocks.

``_Worker`` is that loop (and the resources that live on it), ``PendingWork`` counts the work
submitted to it until done, and ``Gauge`` measures a bounded resource for the fault report.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import logging
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from .webhooks import _WebhookJob

logger = logging.getLogger("replicate_standin")


@dataclass
class Gauge:
    """How much of a bounded resource is in use, and the most it ever was (worker loop only)."""

    bound: int
    in_use: int = 0
    peak: int = 0
    total: int = 0

    def enter(self) -> None:
        self.in_use += 1
        self.total += 1
        self.peak = max(self.peak, self.in_use)

    def leave(self) -> None:
        self.in_use -= 1

    def snapshot(self) -> dict[str, int]:
        return {"bound": self.bound, "in_use": self.in_use, "peak": self.peak, "total": self.total}


@contextlib.asynccontextmanager
async def counted(gauge: Gauge) -> AsyncIterator[None]:
    """``gauge`` counts the body as one use of its resource while it runs."""
    gauge.enter()
    try:
        yield
    finally:
        gauge.leave()


class _Worker:
    """An asyncio loop in a daemon thread, started on demand and stoppable."""

    def __init__(self, workers: int) -> None:
        self._workers = workers
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None
        # One client (so one connection pool) per purpose: input downloads must never starve
        # webhook deliveries of connections, nor the other way round.
        self.http: dict[str, httpx.AsyncClient] = {}
        self.run_slots: asyncio.Semaphore | None = None
        self.download_slots: asyncio.Semaphore | None = None
        self.webhook_queue: asyncio.Queue[_WebhookJob] | None = None
        self.webhook_senders: list[asyncio.Task[None]] = []

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is not None and self._thread is not None and self._thread.is_alive():
                return self._loop
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            thread = threading.Thread(target=run, name="replicate-standin-worker", daemon=True)
            thread.start()
            ready.wait()
            self._loop, self._thread = loop, thread
            self.executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=self._workers, thread_name_prefix="replicate-standin-model"
            )
            return loop

    def submit(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop())

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the worker loop (no-op when the worker is stopped)."""
        with self._lock:
            loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback, *args)

    def close(self, timeout: float = 5.0) -> None:
        with self._lock:
            loop, thread, executor = self._loop, self._thread, self.executor
            self._loop = self._thread = self.executor = None
        if loop is None or thread is None:
            return
        if thread.is_alive():

            async def shutdown() -> None:
                current = asyncio.current_task()
                tasks = [t for t in asyncio.all_tasks() if t is not current]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                clients, self.http = list(self.http.values()), {}
                for client in clients:
                    await client.aclose()
                self.run_slots = self.download_slots = None
                self.webhook_queue, self.webhook_senders = None, []

            try:
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout)
            except (concurrent.futures.TimeoutError, RuntimeError):
                logger.warning("replicate stand-in: worker shutdown timed out")
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)


class PendingWork:
    """Background work on the worker, counted as pending until it is done, so that
    ``wait_idle()`` can wait until there is none.

    The count is guarded by the lock given (the store's one lock), so what the store reads
    under that lock is as of the same moment.
    """

    def __init__(self, worker: _Worker, lock: threading.RLock) -> None:
        self._worker = worker
        self._idle = threading.Condition(lock)
        self._pending = 0

    @property
    def pending(self) -> int:
        with self._idle:
            return self._pending

    def wait_idle(self, timeout: float) -> bool:
        """Block until no background work is pending; ``False`` on timeout. Not on the worker."""
        if threading.current_thread() is self._worker.thread:
            raise RuntimeError("wait_idle() would deadlock on the stand-in worker thread")
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    def reset(self) -> None:
        """Nothing is pending any more (the worker was stopped: pending work is abandoned)."""
        with self._idle:
            self._pending = 0
            self._idle.notify_all()

    def track(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Run ``coro`` on the worker, counted in ``pending`` until it is done."""
        with self._idle:
            self._pending += 1
        try:
            future = self._worker.submit(self._guard(coro))
        except BaseException:
            coro.close()
            self._done()
            raise
        future.add_done_callback(lambda _f: self._settle(coro))
        return future

    def _done(self) -> None:
        with self._idle:
            self._pending = max(0, self._pending - 1)
            if self._pending == 0:
                self._idle.notify_all()

    @staticmethod
    async def _guard(coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            raise
        except Exception:  # a background failure must never kill the worker
            logger.exception("replicate stand-in: background task failed")
            return None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """A child task on the worker loop, also counted in ``pending``."""
        with self._idle:
            self._pending += 1
        task = asyncio.get_running_loop().create_task(self._guard(coro))
        task.add_done_callback(lambda _t: self._settle(coro))
        return task

    def _settle(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Background work ended. A coroutine cancelled before it ever ran is closed here (once
        its task is done nothing can start it any more), so no "never awaited" warning."""
        if inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
            coro.close()
        self._done()
