"""The domain's typed records: the rows the data layer stores and returns (statuses in
``statuses``). Field names are the stored attribute names (camelCase), as in the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from .statuses import BatchStatus, CellStatus, CellType


class Record(BaseModel):
    """A stored row: unknown attributes (keys, index attributes) are dropped on the way in."""

    model_config = ConfigDict(extra="ignore", use_enum_values=False, validate_assignment=False)

    def attributes(self) -> dict[str, Any]:
        """The stored attributes (None left out), enums as their strings."""
        return self.model_dump(mode="json", exclude_none=True)


class ColorCheck(Record):
    """A colour cell's paint measured against its target (``marketplace.color_check``)."""

    target: str | None = None  # "#rrggbb"
    measured: str | None = None  # "#rrggbb"
    deltaE: float | None = None  # CIEDE2000, one decimal
    verdict: str = "unknown"  # ok | off | unknown


class Cell(Record):
    batchId: str
    angleKey: str
    colorKey: str | None = None
    type: CellType
    status: CellStatus = CellStatus.QUEUED
    prompt: str = ""
    runId: str | None = None
    owner: str | None = None  # on every cell since pacing (older cells: the batch knows)
    sourceImageUrls: list[str] | None = None  # angle cells: what the prediction is made from
    predictionId: str | None = None
    taskToken: str | None = None
    imageInput: list[str] | None = None
    imageKey: str | None = None
    thumbKey: str | None = None
    error: str | None = None
    createdAt: str | None = None
    updatedAt: str | None = None
    startedAt: str | None = None
    completedAt: str | None = None
    predictionCount: int | None = None
    imageCount: int | None = None  # images this cell made, every attempt (what Replicate bills)
    colorCount: int | None = None  # an angle's colour jobs in its run (their slots are reserved with it)
    attempt: int = 1  # 1, then 2, 3, ... each time the dealer retries or regenerates the cell
    promptValue: str | None = None  # a colour cell: its colour's prompt value, frozen with the prompt
    colorCheck: ColorCheck | None = None  # a completed colour cell: its image's paint against the target

    @property
    def is_angle(self) -> bool:
        return not self.colorKey

    @property
    def label(self) -> str:
        return f"{self.angleKey}/{self.colorKey or '-'}"

    def owned_by_run(self, run_id: str) -> bool:
        """Cells from before runs existed belong to the batch's creation run."""
        return (self.runId or self.batchId) == run_id


class Batch(Record):
    batchId: str
    owner: str
    status: BatchStatus = BatchStatus.RUNNING
    sourceImageUrls: list[str]
    angles: list[str]
    colors: list[str] = []
    autoColorize: bool = True
    totalJobs: int = 0
    completedJobs: int = 0
    failedJobs: int = 0
    canceledJobs: int = 0
    runIds: list[str] = []  # every execution started for the batch (a cancel stops them all)
    createdAt: str
    updatedAt: str | None = None
    completedAt: str | None = None
    canceledAt: str | None = None

    @property
    def done_jobs(self) -> int:
        return self.completedJobs + self.failedJobs + self.canceledJobs


class Asset(Record):
    """One gallery image."""

    assetId: str
    batchId: str
    angleKey: str
    colorKey: str | None = None
    imageKey: str
    thumbKey: str
    createdAt: str
