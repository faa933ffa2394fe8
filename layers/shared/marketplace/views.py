"""The shapes clients see: cells, batches, gallery items and WebSocket messages."""

from __future__ import annotations

from typing import Any

from .urls import object_url

JOB_UPDATED = "marketplaceJobUpdated"
BATCH_CREATED = "marketplaceBatchCreated"
BATCH_COMPLETED = "marketplaceBatchCompleted"


def cell_view(cell: dict[str, Any]) -> dict[str, Any]:
    image_key, thumb_key = cell.get("imageKey"), cell.get("thumbKey")
    return {
        "type": cell["type"],
        "angleKey": cell["angleKey"],
        "colorKey": cell.get("colorKey"),
        "status": cell["status"],
        "imageUrl": object_url(image_key) if image_key else None,
        "thumbUrl": object_url(thumb_key) if thumb_key else None,
        "error": cell.get("error"),
    }


def job_updated(batch_id: str, cell: dict[str, Any]) -> dict[str, Any]:
    return {"batchId": batch_id, "result": cell_view(cell)}


def gallery_item(asset: dict[str, Any]) -> dict[str, Any]:
    return {
        "assetId": asset["assetId"],
        "imageUrl": object_url(asset["imageKey"]),
        "thumbUrl": object_url(asset["thumbKey"]),
        "batchId": asset["batchId"],
        "angleKey": asset["angleKey"],
        "colorKey": asset.get("colorKey"),
        "createdAt": asset["createdAt"],
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
