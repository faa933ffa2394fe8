"""In-memory predictions and the background work that moves them along: ``StandinStore``.

The store holds the predictions, the fault and rate-limit counters and the worker, and
orchestrates each prediction: create, cancel, output, listing, and its lifecycle on the worker
(a run slot, processing, the model run during the latency, the final state, its webhooks).
All state is guarded by one lock; JSON snapshots are taken under it.

Its parts live beside it: ``predictions`` (the record and its JSON, pure), ``worker`` (the
loop thread, pending work, gauges), ``inputs`` (fetching input images), ``webhooks`` (which
webhooks go out, their senders, the log) and ``report`` (the fault report, pure). The names
other modules import from here stay importable from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import random
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from . import model as model_module
from . import report
from .files import FileStore
from .inputs import InputFetcher, redact_url
from .output_spool import OutputSpool
from .predictions import FAULT_ERROR, TERMINAL_STATUSES, DeliveredOutput, Prediction, _now, finish, new_prediction_id, select_page
from .ratelimit import RATE_LIMIT_SCOPES, TokenBucket
from .settings import FAULT_NAMES, StandinSettings, validate_faults
from .signing import generate_secret, new_message_id
from .validation import CreateRequest
from .webhooks import PredictionWebhooks, WebhookSenders
from .worker import Gauge, PendingWork, _Worker

__all__ = [  # the public names that were defined here before the split, importable from here
    "FAULT_ERROR", "MODELS", "RATE_LIMIT_SCOPES", "TERMINAL_STATUSES", "DeliveredOutput", "Gauge", "Prediction",
    "RateLimitError", "StandinStore", "UnknownModelError", "check_token", "known_models", "new_prediction_id", "redact_url",
]

MODELS: dict[str, str] = {
    # owner/name → the version id reported on its predictions
    "google/nano-banana": "f0a9d34b12ad1c1cd76269a844b218ff4e64e128ddaba93e15891f47368958a0",
}


class RateLimitError(Exception):
    """The ``ratelimit`` fault: the create request is answered 429."""

    retry_after_seconds = 1


class UnknownModelError(Exception):
    pass


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
        self._seq = 0
        self._predictions: dict[str, Prediction] = {}
        self._tasks: dict[str, asyncio.Task[Any]] = {}  # running lifecycles, touched on the worker loop only
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
        self._work = PendingWork(self._worker, self._lock)  # guarded by the store's lock
        # Bounded resources, for the report: deliveries being sent, deliveries waiting for a
        # sender (the queue), input downloads being fetched.
        self._webhooks_in_flight = Gauge(settings.webhook_senders)
        self._webhooks_queued = Gauge(settings.webhook_queue_size)
        self._downloads = Gauge(settings.max_downloads)
        self.files = FileStore(settings.max_input_bytes, settings.max_file_store_bytes)
        self._outputs = OutputSpool()
        senders = WebhookSenders(settings, self.webhook_secret, self._worker, lambda: self._http("webhooks"),
                                 self._webhooks_queued, self._webhooks_in_flight)
        self._webhooks = PredictionWebhooks(settings, senders, self.files, self._lock)  # the log: under the lock
        self._inputs = InputFetcher(settings, self.files, self._worker, lambda: self._http("downloads"), self._downloads)

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
        return self._webhooks.log()

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
            deliveries = self._webhooks.log()
            ratelimited = self._ratelimited
            pending = self._work.pending
            rate_limits = report.rate_limit_report(self._limits, self._limit_counts, self._ratelimited)
        return report.fault_report(
            predictions,
            deliveries,
            pending=pending,
            ratelimited=ratelimited,
            probabilities=self._faults,
            rate_limits=rate_limits,
            capacity={
                "webhooks_in_flight": self._webhooks_in_flight,
                "webhooks_queued": self._webhooks_queued,
                "downloads_in_flight": self._downloads,
            },
        )

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
        return self._work.pending

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until no background work is pending; ``False`` on timeout.

        Call from any thread except the worker; from async code use ``wait_idle_async``.
        """
        return self._work.wait_idle(timeout)

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
        self._work.reset()

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
            self._work.track(self._lifecycle(prediction))
        return snapshot

    def cancel(self, prediction_id: str) -> dict[str, Any] | None:
        """Cancel unless terminal; the ``completed`` webhook follows. ``None`` if unknown."""
        with self._lock:
            prediction = self._predictions.get(prediction_id)
            if prediction is None:
                return None
            if not prediction.terminal:
                finish(prediction, "canceled")
                prediction.logs += "Prediction canceled.\n"
                final = prediction.to_json(self.settings.output_ttl_seconds)
                self._worker.call_soon(self._cancel_lifecycle, prediction_id)
                self._work.track(self._webhooks.deliver_completed(prediction, final, deferred_start=None))
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
            chosen, next_seq, previous_seq = select_page(self._predictions.values(), after_seq, before_seq, size)
            return [p.to_json(self.settings.output_ttl_seconds) for p in chosen], next_seq, previous_seq

    # ------------------------------------------------------------------ background work

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

    def _run_slots(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """With ``max_running`` set, at most that many predictions are processing at once; the
        others wait their turn ("starting"), as on a busy Replicate. Worker loop only."""
        if self.settings.max_running <= 0:
            return contextlib.nullcontext()
        if self._worker.run_slots is None:
            self._worker.run_slots = asyncio.Semaphore(self.settings.max_running)
        return self._worker.run_slots

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
            await self._webhooks.post(prediction, "output", output_json, new_message_id(), retry=False)
        await self._webhooks.deliver_completed(prediction, final, deferred_start)

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
        progress = self._work.spawn(self._webhooks.send_progress(prediction, start_json, not reorder))

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
                finish(prediction, "succeeded")
            else:
                prediction.error = error
                prediction.logs += f"Error: {error}\n"
                finish(prediction, "failed")
            final = prediction.to_json(ttl)
        return progress, output_json, final, deferred_start

    async def _run_model(self, prediction: Prediction) -> model_module.Output:
        urls = prediction.input.get("image_input") or []
        sources = await asyncio.gather(*(self._inputs.fetch(url) for url in urls))
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
