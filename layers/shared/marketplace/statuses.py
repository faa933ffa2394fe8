"""Statuses: the one source of their names and their order (standard library only, so the CLI
shares it)."""

from __future__ import annotations

from enum import StrEnum


class CellStatus(StrEnum):
    """``queued → processing → completed | failed | canceled``: forward only; a terminal cell changes
    only when the dealer retries it (back to ``queued``, a new attempt)."""

    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        return _CELL_RANK[self]

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


_CELL_RANK = {CellStatus.QUEUED: 0, CellStatus.PROCESSING: 1, CellStatus.COMPLETED: 2, CellStatus.FAILED: 2,
              CellStatus.CANCELED: 2}
TERMINAL = frozenset({CellStatus.COMPLETED, CellStatus.FAILED, CellStatus.CANCELED})
OPEN = frozenset({CellStatus.QUEUED, CellStatus.PROCESSING})


class BatchStatus(StrEnum):
    """``running`` until every cell is terminal, then what the cells say: ``completed`` (every cell
    completed), ``failed`` (none did), ``completed_with_failures`` (the rest); ``canceled`` when the
    dealer stopped it. A retry makes it ``running`` again."""

    RUNNING = "running"
    COMPLETED = "completed"
    COMPLETED_WITH_FAILURES = "completed_with_failures"
    FAILED = "failed"
    CANCELED = "canceled"

    @classmethod
    def outcome(cls, total: int, completed: int) -> BatchStatus:
        """The status of a batch whose cells are all terminal."""
        if completed >= total:
            return cls.COMPLETED
        return cls.FAILED if completed == 0 else cls.COMPLETED_WITH_FAILURES


# The batch row's counter of each terminal cell status (a cell's terminal write bumps it).
COUNTER = {CellStatus.COMPLETED: "completedJobs", CellStatus.FAILED: "failedJobs", CellStatus.CANCELED: "canceledJobs"}


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
