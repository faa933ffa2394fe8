"""Statuses: the one source of their names and their order (standard library only, so the CLI
shares it)."""

from __future__ import annotations

from enum import StrEnum


class CellStatus(StrEnum):
    """``queued → processing → completed | failed``: forward only, a terminal cell never changes."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _CELL_RANK[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


_CELL_RANK = {CellStatus.QUEUED: 0, CellStatus.PROCESSING: 1, CellStatus.COMPLETED: 2, CellStatus.FAILED: 2}
TERMINAL = frozenset({CellStatus.COMPLETED, CellStatus.FAILED})


class BatchStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"


class CellType(StrEnum):
    ANGLE = "angle"
    COLOR = "color"


class PredictionStatus(StrEnum):
    """Replicate's statuses (``aborted`` is one its client's model does not know)."""

    STARTING = "starting"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    ABORTED = "aborted"


class Outcome(StrEnum):
    """What applying one prediction update did to its cell (logs, metrics, tests)."""

    PROCESSING = CellStatus.PROCESSING.value
    COMPLETED = CellStatus.COMPLETED.value
    FAILED = CellStatus.FAILED.value
    STILL_RUNNING = BatchStatus.RUNNING.value  # the reconciler found the prediction running
    UNCHANGED = "unchanged"
    RESUMED = "resumed"
    MISSING = "missing"
    IGNORED = "ignored"


RUNNING_PREDICTION = frozenset({PredictionStatus.STARTING, PredictionStatus.PROCESSING})
FAILED_PREDICTION = frozenset({PredictionStatus.FAILED, PredictionStatus.CANCELED, PredictionStatus.ABORTED})
