"""A prediction's record and its Replicate JSON view (pure: no I/O, no locks).

``StandinStore`` keeps these records under its lock and moves them along; this module holds
what a prediction is (its fields, its id, its JSON, its final state, a page of them) and
nothing that runs.
"""

from __future__ import annotations

import copy
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .validation import WEBHOOK_EVENTS

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


def finish(prediction: Prediction, status: str) -> None:
    """Moves ``prediction`` to the final ``status`` and sets its completion time and metrics."""
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


def select_page(
    predictions: Iterable[Prediction], after_seq: int | None, before_seq: int | None, size: int
) -> tuple[list[Prediction], int | None, int | None]:
    """One page of ``size`` newest first (``StandinStore.page``): those older than ``after_seq``
    (a "next" cursor) or the page just newer than ``before_seq`` (a "previous" cursor). Returns
    them, the seq for a next cursor (or None) and the seq for a previous cursor (or None)."""
    ordered = sorted(predictions, key=lambda p: p.seq, reverse=True)
    if before_seq is not None:
        newer = [p for p in ordered if p.seq > before_seq]
        chosen = newer[-size:]
    elif after_seq is not None:
        chosen = [p for p in ordered if p.seq < after_seq][:size]
    else:
        chosen = ordered[:size]
    if not chosen:
        return chosen, None, None
    oldest, newest = chosen[-1].seq, chosen[0].seq
    has_older = any(p.seq < oldest for p in ordered)
    first_page = before_seq is None and after_seq is None
    has_newer = not first_page and any(p.seq > newest for p in ordered)
    return chosen, (oldest if has_older else None), (newest if has_newer else None)
