"""The shapes clients see: cells, batches, gallery items and WebSocket messages."""

from __future__ import annotations

from typing import Any

from .domain import Asset, Cell
from .urls import object_url

JOB_UPDATED = "marketplaceJobUpdated"
BATCH_CREATED = "marketplaceBatchCreated"
BATCH_COMPLETED = "marketplaceBatchCompleted"


def cell_view(cell: Cell) -> dict[str, Any]:
    return {
        "type": str(cell.type),
        "angleKey": cell.angleKey,
        "colorKey": cell.colorKey,
        "status": str(cell.status),
        "imageUrl": object_url(cell.imageKey) if cell.imageKey else None,
        "thumbUrl": object_url(cell.thumbKey) if cell.thumbKey else None,
        "error": cell.error,
    }


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


def presets_view(presets: Any) -> dict[str, Any]:
    """Enabled rows only, angles by order (the store keeps them sorted)."""
    return {
        "angles": [
            {"angleKey": a.angle_key, "angleLabel": a.angle_label, "angleDesc": a.angle_desc, "order": a.order}
            for a in presets.enabled_angles()
        ],
        "colors": [
            {"colorKey": c.color_key, "colorLabel": c.color_label, "promptValue": c.prompt_value}
            for c in presets.enabled_colors()
        ],
    }
