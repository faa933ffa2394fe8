"""Request and answer models of the HTTP API (they also generate its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, StringConstraints

from .statuses import BatchStatus, CellStatus, CellType

# Keys become DynamoDB sort keys, S3 paths and execution names: a narrow ASCII alphabet.
BATCH_ID_PATTERN = r"^[A-Za-z0-9_-]{1,80}$"
MAX_PRESET_KEY_LENGTH = 64
MAX_KEYS_PER_REQUEST = 1000  # angles, colours: the largest batch is 1,000 x 1,000 cells
PresetKey = Annotated[StrictStr, StringConstraints(pattern=rf"^[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_PRESET_KEY_LENGTH - 1}}}$")]
SourceUrl = Annotated[StrictStr, StringConstraints(min_length=1, max_length=4096)]
ContentType = Literal["image/jpeg", "image/png", "image/webp", "image/heic", "image/heif"]

MAX_SOURCE_IMAGES = 16
MAX_UPLOAD_BYTES = 30 * 1024 * 1024


class _Request(BaseModel):
    # Unknown fields are ignored so older servers accept newer clients.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class CreateBatchRequest(_Request):
    sourceImageUrls: list[SourceUrl] = Field(min_length=1, max_length=MAX_SOURCE_IMAGES)
    angles: list[PresetKey] = Field(min_length=1, max_length=MAX_KEYS_PER_REQUEST)
    colors: list[PresetKey] = Field(default_factory=list, max_length=MAX_KEYS_PER_REQUEST)
    autoColorize: StrictBool = True


class ColorizeRequest(_Request):
    colors: list[PresetKey] = Field(min_length=1, max_length=MAX_KEYS_PER_REQUEST)
    angles: list[PresetKey] | None = Field(
        default=None, min_length=1, max_length=MAX_KEYS_PER_REQUEST,
        description="the finished angles to colourise; absent (or null): every finished angle of the batch, "
                    "all at once (an angle that is not finished yet is a 409 naming it)",
    )


class CellRef(_Request):
    angleKey: PresetKey
    colorKey: PresetKey | None = Field(default=None, description="null (or absent) for the angle cell")


class RetryRequest(_Request):
    cells: list[CellRef] | None = Field(
        default=None, min_length=1, max_length=MAX_KEYS_PER_REQUEST * 2,
        description="the cells to run again (any terminal cell: a completed one is regenerated); "
                    "absent: every failed or canceled cell",
    )


class UploadFile(_Request):
    filename: Annotated[StrictStr, StringConstraints(min_length=1, max_length=255)]
    contentType: ContentType
    size: Annotated[StrictInt, Field(ge=1, le=MAX_UPLOAD_BYTES)]


class UploadsRequest(_Request):
    files: list[UploadFile] = Field(min_length=1, max_length=MAX_SOURCE_IMAGES)


class ColorCheckView(BaseModel):
    target: str | None = Field(description="the paint asked for, #rrggbb (null: the colour names none)")
    measured: str | None = Field(description="the body paint measured in the image, #rrggbb (null: not measurable)")
    deltaE: float | None = Field(description="CIEDE2000 between them, one decimal")
    verdict: Literal["ok", "off", "unknown"] = Field(
        description="ok: deltaE within the deployment's threshold; off: beyond it (a cell to regenerate); "
                    "unknown: no target or no measurable body")


class CellView(BaseModel):
    type: CellType
    angleKey: str
    colorKey: str | None
    status: CellStatus
    imageUrl: str | None = None
    thumbUrl: str | None = None
    error: str | None = None
    attempt: int = Field(default=1, description="1, then 2, 3, ... each time the cell is retried or regenerated")
    colorCheck: ColorCheckView | None = Field(
        default=None, description="a completed colour cell: its paint checked against the colour asked for")


class CellCounts(BaseModel):
    queued: int
    processing: int
    completed: int
    failed: int
    canceled: int


class Estimate(BaseModel):
    images: int = Field(description="predictions this request creates (one image each if all succeed)")
    costUsd: float = Field(description="images x pricePerImageUsd, rounded half up to cents")


class Cost(BaseModel):
    predictions: int = Field(description="predictions created for the batch, retries included")
    billedImages: int = Field(description="images that succeeded, every attempt (what Replicate bills)")
    costUsd: float = Field(description="billedImages x pricePerImageUsd, rounded half up to cents")


class Pricing(BaseModel):
    pricePerImageUsd: float
    currency: Literal["USD"]


class CreateBatchAnswer(BaseModel):
    batchId: str
    totalJobs: int
    cells: list[CellView]
    estimate: Estimate


class BatchSnapshot(BaseModel):
    batchId: str
    status: BatchStatus
    angles: list[str]
    colors: list[str]
    autoColorize: bool
    totalJobs: int
    completedJobs: int
    failedJobs: int
    counts: CellCounts
    createdAt: str
    sourceImageUrls: list[str]
    sourcePreviewUrls: list[str] = Field(
        default_factory=list, description="the source photos for a browser: own uploads signed anew, others as given")
    cells: list[CellView]
    cost: Cost


class ColorizeAnswer(BaseModel):
    batchId: str
    totalJobs: int
    createdJobs: int
    estimate: Estimate


class RetryAnswer(BaseModel):
    batchId: str
    retried: list[dict[str, str | None]]
    totalJobs: int
    estimate: Estimate


class CancelAnswer(BaseModel):
    batchId: str
    status: BatchStatus
    canceled: int


class UploadSlot(BaseModel):
    uploadUrl: str
    headers: dict[str, str]
    sourceImageUrl: str


class UploadsAnswer(BaseModel):
    uploads: list[UploadSlot]


class AnglePresetView(BaseModel):
    angleKey: str
    angleLabel: str
    angleDesc: str
    order: int | None


class ColorPresetView(BaseModel):
    colorKey: str
    colorLabel: str
    promptValue: str


class PresetsAnswer(BaseModel):
    angles: list[AnglePresetView]
    colors: list[ColorPresetView]
    pricing: Pricing


class TicketAnswer(BaseModel):
    ticket: str
    expiresAt: int


class GalleryItem(BaseModel):
    assetId: str
    imageUrl: str
    thumbUrl: str
    batchId: str
    angleKey: str
    colorKey: str | None
    createdAt: str


class GalleryAnswer(BaseModel):
    items: list[GalleryItem]
    nextToken: str | None


class BatchListCounts(BaseModel):
    completed: int
    failed: int
    canceled: int
    pending: int = Field(description="totalJobs minus the others: cells queued or processing")


class BatchListItem(BaseModel):
    batchId: str
    createdAt: str
    status: BatchStatus
    counts: BatchListCounts
    thumbUrl: str | None = Field(description="the first image the batch made (matrix order); null until one is made")
    cost: Cost
    sourceUrl: str | None = Field(default=None, description="the batch's first source photo (own uploads signed anew)")


class BatchListAnswer(BaseModel):
    items: list[BatchListItem]
    nextToken: str | None


class ConfigAnswer(BaseModel):
    websocketUrl: str
    apiBaseUrl: str | None = None
    devMode: bool
    maxSourceImages: int
    maxUploadBytes: int
    acceptedContentTypes: list[str]


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorAnswer(BaseModel):
    """Every 4xx/5xx the API itself answers: ``{"error": {code, message, field?}}``."""

    error: ErrorDetail


class GatewayMessage(BaseModel):
    """API Gateway's own answers (413 body too large, 404/500/503 of the gateway itself)."""

    message: str
