"""In-memory predictions and the background work that moves them along.

Background work (the prediction lifecycle, image fetching, webhook delivery) runs on the
store's own asyncio loop in a daemon thread ("replicate-standin-worker"), never on the loop
that serves HTTP. So the stand-in behaves the same under uvicorn, under uvicorn in a thread,
and under starlette's TestClient (whose loop lives only as long as a request when it is not
used as a context manager), and ``wait_idle()`` can block any other thread safely. The
Pillow work runs in a small thread pool (``generation_workers``) so neither loop blocks.

All state is guarded by one lock; JSON snapshots are taken under it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import contextlib
import copy
import hmac
import inspect
import json
import logging
import random
import secrets
import threading
import time
import urllib.parse
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from . import model as model_module
from .files import FileStore, UnreachableInput, check_reachable
from .output_spool import OutputSpool
from .ratelimit import TokenBucket
from .settings import FAULT_NAMES, StandinSettings, validate_faults
from .signing import generate_secret, new_message_id, signed_headers
from .validation import WEBHOOK_EVENTS, CreateRequest

logger = logging.getLogger("replicate_standin")

MODELS: dict[str, str] = {
    # owner/name → the version id reported on its predictions
    "google/nano-banana": "f0a9d34b12ad1c1cd76269a844b218ff4e64e128ddaba93e15891f47368958a0",
}
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})
FAULT_ERROR = "Prediction interrupted; please retry (code: PA)"
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_prediction_id() -> str:
    """A Replicate-like id: 26 lowercase base32 characters."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(26))


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _now() -> datetime:
    return datetime.now(UTC)


def redact_url(url: str) -> str:
    """A URL fit for an error message: no query string (presigned URLs carry signatures)."""
    if url.startswith("data:"):
        return "data URI"
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class RateLimitError(Exception):
    """The ``ratelimit`` fault: the create request is answered 429."""

    retry_after_seconds = 1


RATE_LIMIT_SCOPES = ("create", "other")
"""``create``: the two create-prediction endpoints; ``other``: every other ``/v1`` endpoint."""


class UnknownModelError(Exception):
    pass


@dataclass
class Prediction:
    id: str
    seq: int
    model: str
    version: str
    input: dict[str, Any]
    webhook: str | None
    webhook_events_filter: list[str] | None
    api_base: str
    faults: frozenset[str]
    created_at: datetime
    status: str = "starting"
    started_at: datetime | None = None
    completed_at: datetime | None = None
    completed_monotonic: float | None = None
    output: Any = None
    error: str | None = None
    logs: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    output_path: Path | None = None  # in the store's OutputSpool
    output_content_type: str = "image/png"
    output_filename: str = "output.png"
    drifted: bool = False  # a colour job painted off its target by the ``drift`` fault

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def wants(self, event: str) -> bool:
        """Whether a webhook is sent for ``event`` (all events when no filter was given)."""
        if not self.webhook:
            return False
        events = WEBHOOK_EVENTS if self.webhook_events_filter is None else self.webhook_events_filter
        return event in events

    def to_json(self, ttl_seconds: float) -> dict[str, Any]:
        """The Replicate prediction object (a copy: callers may keep or change it)."""
        removed = self.completed_monotonic is not None and time.monotonic() - self.completed_monotonic >= ttl_seconds
        get_url = f"{self.api_base}/v1/predictions/{self.id}"
        return {
            "id": self.id,
            "model": self.model,
            "version": self.version,
            "input": copy.deepcopy(self.input),
            "logs": self.logs,
            "output": self.output,
            "data_removed": removed,
            "error": self.error,
            "status": self.status,
            "source": "api",
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "urls": {"get": get_url, "cancel": f"{get_url}/cancel"},
            "metrics": dict(self.metrics),
            "webhook": self.webhook,
            "webhook_events_filter": self.webhook_events_filter,
        }


@dataclass(frozen=True)
class DeliveredOutput:
    data: bytes
    content_type: str
    slow: bool


@dataclass
class _WebhookJob:
    """One webhook attempt waiting for a sender; ``result`` gets (status code, error)."""

    url: str
    message_id: str
    body: str
    result: asyncio.Future[tuple[int | None, str | None]]


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


class StandinStore:
    """Predictions, outputs, webhook log and background work of one stand-in app.

    Reachable as ``app.state.standin``. Thread-safe.
    """

    def __init__(
        self,
        settings: StandinSettings,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.webhook_secret: str = settings.webhook_secret or generate_secret()
        self._transport = transport
        self._lock = threading.RLock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self._seq = 0
        self._predictions: dict[str, Prediction] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}  # running lifecycles, touched on the worker loop only
        self._deliveries: list[dict[str, Any]] = []
        self._faults = dict(settings.faults)
        self._ratelimited = 0  # create requests answered 429 by the ``ratelimit`` fault
        self._limits = {
            "create": TokenBucket(settings.create_limit_per_minute, settings.create_burst),
            "other": TokenBucket(settings.other_limit_per_minute, settings.other_burst),
        }
        # scope → token label → {"created" (create scope only), "throttled"}
        self._limit_counts: dict[str, dict[str, dict[str, int]]] = {scope: {} for scope in RATE_LIMIT_SCOPES}
        self._rng = random.Random(settings.seed)
        self._worker = _Worker(settings.generation_workers)
        # Bounded resources, for the report: deliveries being sent, deliveries waiting for a
        # sender (the queue), input downloads being fetched.
        self._webhooks_in_flight = Gauge(settings.webhook_senders)
        self._webhooks_queued = Gauge(settings.webhook_queue_size)
        self._downloads = Gauge(settings.max_downloads)
        self.files = FileStore(settings.max_input_bytes, settings.max_file_store_bytes)
        self._outputs = OutputSpool()

    # ------------------------------------------------------------------ inspection

    def list_predictions(self) -> list[dict[str, Any]]:
        """Every prediction as Replicate JSON, newest first."""
        with self._lock:
            ordered = sorted(self._predictions.values(), key=lambda p: p.seq, reverse=True)
            return [p.to_json(self.settings.output_ttl_seconds) for p in ordered]

    def get_prediction(self, prediction_id: str) -> dict[str, Any] | None:
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            if prediction is None:
                return None
            return prediction.to_json(self.settings.output_ttl_seconds)

    def prediction_faults(self, prediction_id: str) -> frozenset[str]:
        """The faults drawn for a prediction (empty for unknown ids)."""
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            return prediction.faults if prediction else frozenset()

    def list_webhook_deliveries(self) -> list[dict[str, Any]]:
        """Every webhook attempt, oldest first: ``{prediction_id, event, webhook_id, url,
        attempt, status_code, error, delivered, at}``; a dropped one has ``dropped: True``."""
        with self._lock:
            return [dict(entry) for entry in self._deliveries]

    def fault_report(self) -> dict[str, Any]:
        """What the fault injection did so far, for chaos runs (read-only; no secrets, no bodies).

        ``drawn``: per fault kind, how many predictions drew it (``ratelimit`` counts the 429s:
        a rate-limited create makes no prediction); ``effective``: the faults that changed what
        the caller saw (a ``duplicate`` or ``reorder`` of a dropped completion, a ``reorder`` without a
        ``start`` webhook to move, or ``slow`` on a
        failed prediction, did nothing); ``by_prediction``: id → its drawn faults (sorted);
        ``deliveries``: webhook attempts by outcome; ``pending``: background work not done yet."""
        with self._lock:
            predictions = list(self._predictions.values())
            deliveries = [dict(entry) for entry in self._deliveries]
            ratelimited = self._ratelimited
            pending = self._pending
            rate_limits = self._rate_limit_report()
        drawn = {name: 0 for name in FAULT_NAMES}
        effective = {name: 0 for name in FAULT_NAMES}
        for prediction in predictions:
            for name in prediction.faults:
                drawn[name] += 1
            faults = prediction.faults
            effective["fail"] += "fail" in faults
            effective["drop"] += "drop" in faults
            effective["duplicate"] += "duplicate" in faults and "drop" not in faults
            # A reorder moves the start webhook after the completed one: nothing to move when the
            # caller subscribed to `completed` only.
            effective["reorder"] += "reorder" in faults and "drop" not in faults and prediction.wants("start")
            effective["slow"] += "slow" in faults and "fail" not in faults
            effective["drift"] += "drift" in faults and "fail" not in faults and prediction.drifted
        drawn["ratelimit"] = effective["ratelimit"] = ratelimited
        completed = [d for d in deliveries if d["event"] == "completed"]
        return {
            "predictions": len(predictions),
            "pending": pending,
            "faults": dict(self._faults),
            "drawn": drawn,
            "effective": effective,
            "by_prediction": {p.id: sorted(p.faults) for p in predictions if p.faults},
            "rate_limits": rate_limits,
            "capacity": {
                "webhooks_in_flight": self._webhooks_in_flight.snapshot(),
                "webhooks_queued": self._webhooks_queued.snapshot(),
                "downloads_in_flight": self._downloads.snapshot(),
            },
            "deliveries": {
                "attempts": len(deliveries),
                "completed_attempts": sum(1 for d in completed if not d["dropped"]),
                "completed_dropped": sum(1 for d in completed if d["dropped"]),
                "completed_rejected": sum(1 for d in completed if not d["dropped"] and not d["delivered"]),
                "completed_delivered": sum(1 for d in completed if d["delivered"]),
                "start_attempts": sum(1 for d in deliveries if d["event"] == "start"),
                "not_delivered": sum(1 for d in deliveries if not d["dropped"] and not d["delivered"]),
                "status_codes": _count(str(d["status_code"]) for d in deliveries if not d["dropped"]),
                "errors": _count(str(d["error"]).split(":", 1)[0] for d in deliveries if d["error"]),
            },
        }

    def _rate_limit_report(self) -> dict[str, Any]:
        """Under the lock: per scope the limit, the burst, totals and per-token counts (tokens
        are shown as a short hash, never in clear)."""
        report: dict[str, Any] = {}
        for scope in RATE_LIMIT_SCOPES:
            bucket, counts = self._limits[scope], self._limit_counts[scope]
            section: dict[str, Any] = {
                "limit_per_minute": bucket.per_minute,
                "burst": bucket.burst if bucket.enabled else None,
                "throttled": sum(c["throttled"] for c in counts.values()),
                "by_token": {label: dict(c) for label, c in sorted(counts.items())},
            }
            if scope == "create":
                section["created"] = sum(c["created"] for c in counts.values())
                # every create answered 429: by the limit plus by the ``ratelimit`` fault
                section["answered_429"] = section["throttled"] + self._ratelimited
            report[scope] = section
        return report

    def throttle(self, scope: str, token: str) -> float:
        """Take a request token of ``scope`` for the API token labelled ``token``: ``0.0`` when
        the request may go on, else the seconds until it could (counted as throttled; nothing
        is taken from the bucket)."""
        wait = self._limits[scope].acquire(token)
        if wait > 0:
            with self._lock:
                self._counts(scope, token)["throttled"] += 1
        return wait

    def _counts(self, scope: str, token: str) -> dict[str, int]:
        """Under the lock: the counters of ``token`` in ``scope``."""
        counts = self._limit_counts[scope].get(token)
        if counts is None:
            counts = {"created": 0, "throttled": 0} if scope == "create" else {"throttled": 0}
            self._limit_counts[scope][token] = counts
        return counts

    def refund(self, scope: str, token: str) -> None:
        """Give back the request token of a request refused for another reason (the
        ``ratelimit`` fault)."""
        self._limits[scope].refund(token)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no background work is pending; ``False`` on timeout.

        Call from any thread except the worker; from async code use ``wait_idle_async``.
        """
        if threading.current_thread() is self._worker.thread:
            raise RuntimeError("wait_idle() would deadlock on the stand-in worker thread")
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)

    async def wait_idle_async(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while self.pending:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def set_faults(self, faults: Mapping[str, float]) -> None:
        """Replace the fault probabilities for predictions created from now on."""
        checked = validate_faults(faults)
        with self._lock:
            self._faults = checked

    def close(self) -> None:
        """Stop background work (pending work is abandoned) and the worker thread."""
        self._worker.close()
        self._outputs.close()
        with self._idle:
            self._pending = 0
            self._idle.notify_all()

    # ------------------------------------------------------------------ commands

    def create(
        self, model_name: str, request: CreateRequest, api_base: str, caller: str = "anonymous"
    ) -> dict[str, Any]:
        """Create and start a prediction; return its JSON (status ``starting``). ``caller``
        labels the API token it is counted under (``ratelimit.token_label``).

        Raises ``UnknownModelError`` or ``RateLimitError`` (the ``ratelimit`` fault).
        """
        version = MODELS.get(model_name)
        if version is None:
            raise UnknownModelError(model_name)
        with self._lock:
            # ``drift`` is drawn only when asked for: the other kinds' seeded sequences stay as they were.
            drawn = frozenset(name for name in FAULT_NAMES if (name != "drift" or self._faults.get(name))
                              and self._rng.random() < self._faults.get(name, 0.0))
            if "ratelimit" in drawn:
                self._ratelimited += 1
                raise RateLimitError()
            self._seq += 1
            prediction = Prediction(
                id=new_prediction_id(),
                seq=self._seq,
                model=model_name,
                version=version,
                input=request.input,
                webhook=request.webhook,
                webhook_events_filter=request.webhook_events_filter,
                api_base=api_base.rstrip("/"),
                faults=drawn,
                created_at=_now(),
            )
            self._predictions[prediction.id] = prediction
            self._counts("create", caller)["created"] += 1
            snapshot = prediction.to_json(self.settings.output_ttl_seconds)
            self._track(self._lifecycle(prediction))
        return snapshot

    def cancel(self, prediction_id: str) -> dict[str, Any] | None:
        """Cancel unless terminal; the ``completed`` webhook follows. ``None`` if unknown."""
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            if prediction is None:
                return None
            if not prediction.terminal:
                self._finish(prediction, "canceled")
                prediction.logs += "Prediction canceled.\n"
                final = prediction.to_json(self.settings.output_ttl_seconds)
                self._worker.call_soon(self._cancel_lifecycle, prediction_id)
                self._track(self._deliver_completed(prediction, final, deferred_start=None))
            return prediction.to_json(self.settings.output_ttl_seconds)

    def output(self, prediction_id: str, filename: str) -> DeliveredOutput | None:
        """The output bytes, or ``None`` when unknown, not finished, or expired."""
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            if (
                prediction is None
                or prediction.output_path is None
                or prediction.output_filename != filename
                or prediction.completed_monotonic is None
                or time.monotonic() - prediction.completed_monotonic >= self.settings.output_ttl_seconds
            ):
                return None
            path, content_type, slow = prediction.output_path, prediction.output_content_type, "slow" in prediction.faults
        data = self._outputs.read(path)
        return None if data is None else DeliveredOutput(data=data, content_type=content_type, slow=slow)

    def page(self, after_seq: int | None, before_seq: int | None) -> tuple[list[dict[str, Any]], int | None, int | None]:
        """One page newest first: items older than ``after_seq`` (a "next" cursor) or the
        page just newer than ``before_seq`` (a "previous" cursor). Returns the items, the
        seq for a next cursor (or None) and the seq for a previous cursor (or None)."""
        size = self.settings.page_size
        with self._lock:
            ordered = sorted(self._predictions.values(), key=lambda p: p.seq, reverse=True)
            if before_seq is not None:
                newer = [p for p in ordered if p.seq > before_seq]
                chosen = newer[-size:]
            elif after_seq is not None:
                chosen = [p for p in ordered if p.seq < after_seq][:size]
            else:
                chosen = ordered[:size]
            items = [p.to_json(self.settings.output_ttl_seconds) for p in chosen]
            if not chosen:
                return items, None, None
            oldest, newest = chosen[-1].seq, chosen[0].seq
            has_older = any(p.seq < oldest for p in ordered)
            first_page = before_seq is None and after_seq is None
            has_newer = not first_page and any(p.seq > newest for p in ordered)
            return items, (oldest if has_older else None), (newest if has_newer else None)

    # ------------------------------------------------------------------ background work

    def _track(self, coro: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
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

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
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

    def _cancel_lifecycle(self, prediction_id: str) -> None:
        """On the worker loop: stop a running lifecycle (a not yet started one sees the
        terminal status and returns at once)."""
        task = self._tasks.pop(prediction_id, None)
        if task is not None:
            task.cancel()

    def warm(self) -> None:
        """Starts the worker and builds its HTTP clients now rather than for the first prediction:
        Replicate is always warm, and they cost a served stand-in's first batch about 50 ms (two
        TLS contexts and httpcore's import) on its critical path."""

        async def build() -> None:
            self._http("webhooks")
            self._http("downloads")

        self._worker.submit(build()).result()

    def _http(self, purpose: str = "webhooks") -> httpx.AsyncClient:
        """The worker loop's client for ``purpose`` ("webhooks" or "downloads"), with as many
        connections as the purpose has senders / download slots (callers take a slot first,
        so nobody ever queues inside the pool)."""
        client = self._worker.http.get(purpose)
        if client is None:
            size = self.settings.webhook_senders if purpose == "webhooks" else self.settings.max_downloads
            client = httpx.AsyncClient(
                transport=self._transport,
                follow_redirects=True,
                trust_env=False,
                limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            )
            self._worker.http[purpose] = client
        return client

    def _webhook_queue(self) -> asyncio.Queue[_WebhookJob]:
        """The bounded delivery queue, and its ``webhook_senders`` sender tasks (started on
        first use; not counted as pending work). Worker loop only."""
        queue = self._worker.webhook_queue
        if queue is None:
            queue = asyncio.Queue(maxsize=self.settings.webhook_queue_size)
            self._worker.webhook_queue = queue
            loop = asyncio.get_running_loop()
            self._worker.webhook_senders = [
                loop.create_task(self._webhook_sender(queue), name=f"replicate-standin-webhook-sender-{i}")
                for i in range(self.settings.webhook_senders)
            ]
        return queue

    async def _webhook_sender(self, queue: asyncio.Queue[_WebhookJob]) -> None:
        """Sends queued webhook attempts one at a time, until the worker stops."""
        while True:
            job = await queue.get()
            self._webhooks_queued.leave()
            try:
                if job.result.done():  # the prediction's lifecycle was cancelled meanwhile
                    continue
                self._webhooks_in_flight.enter()
                try:
                    outcome = await self._send_webhook(job)
                finally:
                    self._webhooks_in_flight.leave()
                if not job.result.done():
                    job.result.set_result(outcome)
            except Exception as exc:  # never lose a sender
                if not job.result.done():
                    job.result.set_exception(exc)
            finally:
                queue.task_done()

    async def _send_webhook(self, job: _WebhookJob) -> tuple[int | None, str | None]:
        """One signed POST (signed now, not when queued: the timestamp is fresh)."""
        try:
            response = await self._http().post(
                job.url,
                content=job.body.encode("utf-8"),
                headers=signed_headers(self.webhook_secret, job.message_id, job.body),
                timeout=self.settings.webhook_timeout_seconds,
            )
            return response.status_code, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"

    async def _attempt(self, url: str, message_id: str, body: str) -> tuple[int | None, str | None]:
        """One delivery attempt through the bounded senders: waits (back-pressure) while the
        queue is full, then until a sender has sent it."""
        queue = self._webhook_queue()
        job = _WebhookJob(url, message_id, body, asyncio.get_running_loop().create_future())
        await queue.put(job)
        self._webhooks_queued.enter()
        return await job.result

    def _run_slots(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """With ``max_running`` set, at most that many predictions are processing at once; the
        others wait their turn ("starting"), as on a busy Replicate. Worker loop only."""
        if self.settings.max_running <= 0:
            return contextlib.nullcontext()
        if self._worker.run_slots is None:
            self._worker.run_slots = asyncio.Semaphore(self.settings.max_running)
        return self._worker.run_slots

    def _download_slots(self) -> asyncio.Semaphore:
        """At most ``max_downloads`` input downloads at once; the others wait for a slot (not
        for a pooled connection, which would time out). Worker loop only."""
        if self._worker.download_slots is None:
            self._worker.download_slots = asyncio.Semaphore(max(1, self.settings.max_downloads))
        return self._worker.download_slots

    @staticmethod
    @contextlib.asynccontextmanager
    async def _counted(gauge: Gauge) -> AsyncIterator[None]:
        gauge.enter()
        try:
            yield
        finally:
            gauge.leave()

    def _finish(self, prediction: Prediction, status: str) -> None:
        now = _now()
        prediction.status = status
        prediction.completed_at = now
        prediction.completed_monotonic = time.monotonic()
        started = prediction.started_at or now
        prediction.metrics = {
            "predict_time": round((now - started).total_seconds(), 6),
            "total_time": round((now - prediction.created_at).total_seconds(), 6),
        }
        if status == "succeeded":
            prediction.metrics["image_count"] = 1

    async def _lifecycle(self, prediction: Prediction) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks[prediction.id] = task
        try:
            await self._run_lifecycle(prediction)
        finally:
            if self._tasks.get(prediction.id) is task:
                del self._tasks[prediction.id]

    async def _run_lifecycle(self, prediction: Prediction) -> None:
        # A prediction holds one of ``max_running`` slots from "processing" to its final state;
        # while it waits for one it stays "starting", as on a busy Replicate. Webhook deliveries
        # (and their retries) happen after the slot is given back.
        async with self._run_slots():
            ran = await self._run_on_slot(prediction)
        if ran is None:
            return
        progress, output_json, final, deferred_start = ran
        await progress  # start (and logs) go out before output/completed
        if output_json is not None and prediction.wants("output"):
            await self._post(prediction, "output", output_json, new_message_id(), retry=False)
        await self._deliver_completed(prediction, final, deferred_start)

    async def _run_on_slot(
        self, prediction: Prediction
    ) -> tuple[asyncio.Task[Any], dict[str, Any] | None, dict[str, Any], dict[str, Any] | None] | None:
        """processing → the model runs during the latency → the final state. ``None`` when the
        prediction was canceled meanwhile; else (start-webhook task, output JSON, final JSON,
        deferred start JSON)."""
        ttl = self.settings.output_ttl_seconds
        with self._lock:
            if prediction.terminal:
                return None
            prediction.status = "processing"
            prediction.started_at = _now()
            prediction.logs = "Starting prediction\n"
            start_json = prediction.to_json(ttl)
        reorder = "reorder" in prediction.faults
        deferred_start = start_json if reorder and prediction.wants("start") else None
        progress = self._spawn(self._send_progress(prediction, start_json, not reorder))

        # The model runs during the latency, as on Replicate: the final state comes at
        # max(latency, generation time), not latency + generation time.
        model_run = None if "fail" in prediction.faults else asyncio.ensure_future(self._run_model(prediction))
        await asyncio.sleep(self.settings.latency_seconds)
        output_json: dict[str, Any] | None = None
        generated: model_module.Output | None = None
        error: str | None = None
        if model_run is None:
            error = FAULT_ERROR
        else:
            try:
                generated = await model_run
            except model_module.ModelError as exc:
                error = str(exc)

        with self._lock:
            if prediction.terminal:  # canceled meanwhile
                return None
            if generated is not None:
                prediction.output_path = self._outputs.put(prediction.id, generated.data)
                prediction.output_content_type = generated.content_type
                prediction.output_filename = generated.filename
                prediction.drifted = "drift" in prediction.faults and generated.job.kind == "color"
                prediction.output = f"{self.settings.output_base_url}/delivery/{prediction.id}/{generated.filename}"
                prediction.logs += (
                    f"Generated {generated.job.kind} image ({generated.job.label}) {generated.size[0]}x{generated.size[1]}\n"
                )
                output_json = prediction.to_json(ttl)
                self._finish(prediction, "succeeded")
            else:
                prediction.error = error
                prediction.logs += f"Error: {error}\n"
                self._finish(prediction, "failed")
            final = prediction.to_json(ttl)
        return progress, output_json, final, deferred_start

    async def _send_progress(self, prediction: Prediction, start_json: dict[str, Any], send_start: bool) -> None:
        """The ``start`` webhook (unless reordered) then ``logs``; each sent once."""
        if send_start and prediction.wants("start"):
            await self._post(prediction, "start", start_json, new_message_id(), retry=False)
        if prediction.wants("logs"):
            await self._post(prediction, "logs", start_json, new_message_id(), retry=False)

    async def _deliver_completed(
        self,
        prediction: Prediction,
        final: dict[str, Any],
        deferred_start: dict[str, Any] | None,
    ) -> None:
        if prediction.wants("completed"):
            message_id = new_message_id()
            if "drop" in prediction.faults:
                self._record(prediction, "completed", message_id, 0, None, None, dropped=True)
            else:
                await self._post(prediction, "completed", final, message_id, retry=True)
                if "duplicate" in prediction.faults:
                    await self._post(prediction, "completed", final, message_id, retry=True)
        if deferred_start is not None:
            await self._post(prediction, "start", deferred_start, new_message_id(), retry=False)

    async def _run_model(self, prediction: Prediction) -> model_module.Output:
        urls = prediction.input.get("image_input") or []
        sources = await asyncio.gather(*(self._fetch(url) for url in urls))
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._worker.executor,
            model_module.generate,
            prediction.input["prompt"],
            list(zip(urls, sources, strict=True)),
            prediction.input.get("output_format") or "jpg",  # the real model defaults to jpg
            self.settings.max_input_pixels,
            "drift" in prediction.faults,
        )

    async def _fetch(self, url: str) -> bytes:
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
            async with self._download_slots(), self._counted(self._downloads):
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
        client = self._http("downloads")
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

    def _record(
        self,
        prediction: Prediction,
        event: str,
        message_id: str,
        attempt: int,
        status_code: int | None,
        error: str | None,
        dropped: bool = False,
    ) -> None:
        with self._lock:
            self._deliveries.append(
                {
                    "prediction_id": prediction.id,
                    "event": event,
                    "webhook_id": message_id,
                    "url": prediction.webhook,
                    "attempt": attempt,
                    "status_code": status_code,
                    "error": error,
                    "delivered": status_code is not None and 200 <= status_code < 300,
                    "dropped": dropped,
                    "at": _iso(_now()),
                }
            )

    async def _post(
        self,
        prediction: Prediction,
        event: str,
        payload: dict[str, Any],
        message_id: str,
        retry: bool,
    ) -> bool:
        """POST one signed webhook (through the bounded senders); the ``completed`` one is
        retried with backoff, waiting out of the queue between attempts."""
        assert prediction.webhook is not None
        if self.settings.remote:
            # Replicate cannot reach a laptop's webhook URL: nothing is sent (the caller polls).
            self.files.count("webhooks_not_sent")
            return False
        body = json.dumps(payload)
        delay = self.settings.webhook_retry_initial_seconds
        deadline = time.monotonic() + self.settings.webhook_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            status_code, error = await self._attempt(prediction.webhook, message_id, body)
            self._record(prediction, event, message_id, attempt, status_code, error)
            if status_code is not None and 200 <= status_code < 300:
                return True
            if not retry or time.monotonic() + delay > deadline:
                logger.info(
                    "replicate stand-in: %s webhook for %s not delivered (%s)",
                    event,
                    prediction.id,
                    error or f"HTTP {status_code}",
                )
                return False
            await asyncio.sleep(delay)
            delay *= 2


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def check_token(expected: str | None, authorization: str | None) -> bool:
    """``Authorization: Bearer <token>`` (the client's form) or ``Token <token>``."""
    if expected is None:
        return True
    if not authorization:
        return False
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() not in ("bearer", "token"):
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def known_models() -> Iterable[str]:
    return MODELS.keys()
