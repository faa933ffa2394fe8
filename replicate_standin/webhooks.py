"""A prediction's webhooks, sent from the worker loop.

``PredictionWebhooks`` decides which are sent and when (the event filter, the webhook faults,
the ``completed`` one's retries) and logs every attempt; ``WebhookSenders`` sends them: a
bounded queue drained by ``webhook_senders`` sender tasks, each attempt one signed POST.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from .files import FileStore
from .predictions import Prediction, _iso, _now
from .settings import StandinSettings
from .signing import new_message_id, signed_headers
from .worker import Gauge, _Worker

logger = logging.getLogger("replicate_standin")


@dataclass
class _WebhookJob:
    """One webhook attempt waiting for a sender; ``result`` gets (status code, error)."""

    url: str
    message_id: str
    body: str
    result: asyncio.Future[tuple[int | None, str | None]]


class WebhookSenders:
    """The bounded delivery queue and its sender tasks, for one store (worker loop only).

    The queue and the tasks live on the worker (``_Worker.webhook_queue``/``webhook_senders``),
    which drops them when it stops; ``queued`` and ``in_flight`` are the store's gauges.
    """

    def __init__(
        self,
        settings: StandinSettings,
        secret: str,
        worker: _Worker,
        client: Callable[[], httpx.AsyncClient],
        queued: Gauge,
        in_flight: Gauge,
    ) -> None:
        self.settings = settings
        self._secret = secret
        self._worker = worker
        self._client = client
        self._queued = queued
        self._in_flight = in_flight

    async def attempt(self, url: str, message_id: str, body: str) -> tuple[int | None, str | None]:
        """One delivery attempt through the bounded senders: waits (back-pressure) while the
        queue is full, then until a sender has sent it."""
        queue = self._queue()
        job = _WebhookJob(url, message_id, body, asyncio.get_running_loop().create_future())
        await queue.put(job)
        self._queued.enter()
        return await job.result

    def _queue(self) -> asyncio.Queue[_WebhookJob]:
        """The bounded delivery queue, and its ``webhook_senders`` sender tasks (started on
        first use; not counted as pending work). Worker loop only."""
        queue = self._worker.webhook_queue
        if queue is None:
            queue = asyncio.Queue(maxsize=self.settings.webhook_queue_size)
            self._worker.webhook_queue = queue
            loop = asyncio.get_running_loop()
            self._worker.webhook_senders = [
                loop.create_task(self._sender(queue), name=f"replicate-standin-webhook-sender-{i}")
                for i in range(self.settings.webhook_senders)
            ]
        return queue

    async def _sender(self, queue: asyncio.Queue[_WebhookJob]) -> None:
        """Sends queued webhook attempts one at a time, until the worker stops."""
        while True:
            job = await queue.get()
            self._queued.leave()
            try:
                if job.result.done():  # the prediction's lifecycle was cancelled meanwhile
                    continue
                self._in_flight.enter()
                try:
                    outcome = await self._send(job)
                finally:
                    self._in_flight.leave()
                if not job.result.done():
                    job.result.set_result(outcome)
            except Exception as exc:  # never lose a sender
                if not job.result.done():
                    job.result.set_exception(exc)
            finally:
                queue.task_done()

    async def _send(self, job: _WebhookJob) -> tuple[int | None, str | None]:
        """One signed POST (signed now, not when queued: the timestamp is fresh)."""
        try:
            response = await self._client().post(
                job.url,
                content=job.body.encode("utf-8"),
                headers=signed_headers(self._secret, job.message_id, job.body),
                timeout=self.settings.webhook_timeout_seconds,
            )
            return response.status_code, None
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"


class PredictionWebhooks:
    """Which webhooks a prediction gets and when (its ``webhook_events_filter``; the ``drop``,
    ``duplicate`` and ``reorder`` faults), the ``completed`` one's retries, and the log of every
    attempt. The log is guarded by the lock given (the store's), under which the store reads it.
    """

    def __init__(self, settings: StandinSettings, senders: WebhookSenders, files: FileStore, lock: threading.RLock) -> None:
        self.settings = settings
        self._senders = senders
        self._files = files
        self._lock = lock
        self._deliveries: list[dict[str, Any]] = []

    def log(self) -> list[dict[str, Any]]:
        """Copies of every attempt, oldest first (``StandinStore.list_webhook_deliveries``)."""
        with self._lock:
            return [dict(entry) for entry in self._deliveries]

    async def send_progress(self, prediction: Prediction, start_json: dict[str, Any], send_start: bool) -> None:
        """The ``start`` webhook (unless reordered) then ``logs``; each sent once."""
        if send_start and prediction.wants("start"):
            await self.post(prediction, "start", start_json, new_message_id(), retry=False)
        if prediction.wants("logs"):
            await self.post(prediction, "logs", start_json, new_message_id(), retry=False)

    async def deliver_completed(
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
                await self.post(prediction, "completed", final, message_id, retry=True)
                if "duplicate" in prediction.faults:
                    await self.post(prediction, "completed", final, message_id, retry=True)
        if deferred_start is not None:
            await self.post(prediction, "start", deferred_start, new_message_id(), retry=False)

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

    async def post(
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
            self._files.count("webhooks_not_sent")
            return False
        body = json.dumps(payload)
        delay = self.settings.webhook_retry_initial_seconds
        deadline = time.monotonic() + self.settings.webhook_retry_seconds
        attempt = 0
        while True:
            attempt += 1
            status_code, error = await self._senders.attempt(prediction.webhook, message_id, body)
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

