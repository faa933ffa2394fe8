"""The fault report (``StandinStore.fault_report``, ``GET /_standin/faults``), built from what
the store read under its lock (pure: no I/O, no locks).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .predictions import Prediction
from .ratelimit import RATE_LIMIT_SCOPES, TokenBucket
from .settings import FAULT_NAMES
from .worker import Gauge


def fault_report(
    predictions: list[Prediction],
    deliveries: list[dict[str, Any]],
    *,
    pending: int,
    ratelimited: int,
    probabilities: Mapping[str, float],
    rate_limits: dict[str, Any],
    capacity: Mapping[str, Gauge],
) -> dict[str, Any]:
    """The report's keys are described at ``StandinStore.fault_report``. ``predictions`` and
    ``deliveries`` are the store's (copies of its lists), ``ratelimited`` the creates answered
    429 by the ``ratelimit`` fault, ``probabilities`` the current fault probabilities, ``rate_limits`` from
    ``rate_limit_report``, ``capacity`` the bounded resources by name."""
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
        "faults": dict(probabilities),
        "drawn": drawn,
        "effective": effective,
        "by_prediction": {p.id: sorted(p.faults) for p in predictions if p.faults},
        "rate_limits": rate_limits,
        "capacity": {name: gauge.snapshot() for name, gauge in capacity.items()},
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


def rate_limit_report(
    limits: Mapping[str, TokenBucket], limit_counts: Mapping[str, dict[str, dict[str, int]]], ratelimited: int
) -> dict[str, Any]:
    """Under the lock: per scope the limit, the burst, totals and per-token counts (tokens
    are shown as a short hash, never in clear)."""
    report: dict[str, Any] = {}
    for scope in RATE_LIMIT_SCOPES:
        bucket, counts = limits[scope], limit_counts[scope]
        section: dict[str, Any] = {
            "limit_per_minute": bucket.per_minute,
            "burst": bucket.burst if bucket.enabled else None,
            "throttled": sum(c["throttled"] for c in counts.values()),
            "by_token": {label: dict(c) for label, c in sorted(counts.items())},
        }
        if scope == "create":
            section["created"] = sum(c["created"] for c in counts.values())
            # every create answered 429: by the limit plus by the ``ratelimit`` fault
            section["answered_429"] = section["throttled"] + ratelimited
        report[scope] = section
    return report


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts
