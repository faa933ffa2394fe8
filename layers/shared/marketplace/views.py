"""The shapes clients see: cells, batches, gallery items and WebSocket messages."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .domain import Asset, Batch, Cell
from .pricing import pricing
from .statuses import CellStatus
from .urls import object_url

JOB_UPDATED = "marketplaceJobUpdated"
BATCH_CREATED = "marketplaceBatchCreated"
BATCH_COMPLETED = "marketplaceBatchCompleted"
ARCHIVE_READY = "marketplaceArchiveReady"


def cell_view(cell: Cell) -> dict[str, Any]:
    return {
        "type": str(cell.type),
        "angleKey": cell.angleKey,
        "colorKey": cell.colorKey,
        "status": str(cell.status),
        "imageUrl": object_url(cell.imageKey) if cell.imageKey else None,
        "thumbUrl": object_url(cell.thumbKey) if cell.thumbKey else None,
        "error": cell.error,
        "attempt": cell.attempt,
        "colorCheck": cell.colorCheck.model_dump(mode="json") if cell.colorCheck else None,
    }


def cell_counts(cells: Iterable[Cell]) -> dict[str, int]:
    """``{queued, processing, completed, failed, canceled}``: every status, zeros included."""
    counts = {str(status): 0 for status in CellStatus}
    for cell in cells:
        counts[str(cell.status)] += 1
    return counts


def finished_counts(batch: Batch) -> dict[str, int]:
    """The counts of a batch whose cells are all terminal, from its counters (no cell read)."""
    counts = {str(status): 0 for status in CellStatus}
    counts.update({str(CellStatus.COMPLETED): batch.completedJobs, str(CellStatus.FAILED): batch.failedJobs,
                   str(CellStatus.CANCELED): batch.canceledJobs})
    return counts


def batch_completed(batch: Batch) -> dict[str, Any]:
    """``marketplaceBatchCompleted``: the outcome in words a dealer can trust, with its counts."""
    return {"batchId": batch.batchId, "status": str(batch.status), "counts": finished_counts(batch)}


def job_updated(batch_id: str, cell: Cell) -> dict[str, Any]:
    return {"batchId": batch_id, "result": cell_view(cell)}


def gallery_item(asset: Asset) -> dict[str, Any]:
    return {
        "assetId": asset.assetId,
        "imageUrl": object_url(asset.imageKey),
        "thumbUrl": object_url(asset.thumbKey),
        "batchId": asset.batchId,
        "angleKey": asset.angleKey,
        "colorKey": asset.colorKey,
        "createdAt": asset.createdAt,
    }


def presets_view(presets: Any, price_per_image_usd: float) -> dict[str, Any]:
    """Enabled rows only, angles by order (the store keeps them sorted); what an image costs."""
    return {
        "pricing": pricing(price_per_image_usd),
        "angles": [
            {"angleKey": a.angle_key, "angleLabel": a.angle_label, "angleDesc": a.angle_desc, "order": a.order}
            for a in presets.enabled_angles()
        ],
        "colors": [
            {"colorKey": c.color_key, "colorLabel": c.color_label, "promptValue": c.prompt_value}
            for c in presets.enabled_colors()
        ],
    }


def batch_list_item(batch: Batch, cells: list[Cell], cost: dict[str, Any], source_url: str | None = None) -> dict[str, Any]:
    """One row of the batch list. Counts come from the batch row's counters; the thumbnail is the
    first image the batch holds in matrix order (``cells`` ordered): no thumbnail of a source
    photo is ever stored (uploads are kept as sent), so a batch shows its first result;
    ``sourceUrl`` is its first source photo as sent (signed anew), for telling two cars apart."""
    done = {"completed": batch.completedJobs, "failed": batch.failedJobs, "canceled": batch.canceledJobs}
    thumb = next((c.thumbKey for c in cells if c.thumbKey), None)
    return {
        "batchId": batch.batchId,
        "createdAt": batch.createdAt,
        "status": str(batch.status),
        "counts": {**done, "pending": max(batch.totalJobs - sum(done.values()), 0)},
        "thumbUrl": object_url(thumb) if thumb else None,
        "cost": cost,
        "sourceUrl": source_url,
    }
