"""`manifest.json`: the batch and every cell (failed ones too, which are listed but not zipped).

Per cell: type, keys, labels, status, the file in the archive (null when not zipped), its bytes,
the exact prompt, the attempt (1 when the cell records none), the error, and a colour cell's colour
check (``{target, measured, deltaE, verdict}``, null until checked). The batch's cost is the
snapshot's (`batches.batch_cost`: predictions, billed images, USD); cost figures a stored row
carries itself (any attribute whose name mentions cost, billing or price) are kept too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..domain import Batch, Cell

FORMAT = 1
_COST_WORDS = ("cost", "billed", "price")


@dataclass
class CellEntry:
    """One cell and what became of it in the archive."""

    cell: Cell
    raw: dict[str, Any]
    file: str | None = None
    bytes: int | None = None
    error: str | None = None  # why a completed cell is not in the archive


def cost_figures(raw: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in sorted(raw.items())
            if any(word in name.lower() for word in _COST_WORDS) and value is not None}


def attempt_of(raw: dict[str, Any]) -> int:
    value = raw.get("attempt")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1


def build_manifest(batch: Batch, batch_raw: dict[str, Any], entries: list[CellEntry], angle_labels: dict[str, str],
                   color_labels: dict[str, str], *, built_at: str, matrix: str | None,
                   cost: dict[str, Any] | None = None) -> dict[str, Any]:
    cells = []
    for entry in entries:
        cell = entry.cell
        item: dict[str, Any] = {
            "type": str(cell.type),
            "angleKey": cell.angleKey,
            "colorKey": cell.colorKey,
            "angleLabel": angle_labels.get(cell.angleKey, cell.angleKey),
            "colorLabel": color_labels.get(cell.colorKey, cell.colorKey) if cell.colorKey else None,
            "status": str(cell.status),
            "file": entry.file,
            "bytes": entry.bytes,
            "prompt": cell.prompt,
            "attempt": attempt_of(entry.raw),
            "error": entry.error or cell.error,
            "completedAt": cell.completedAt,
        }
        if cell.colorKey:
            item["colorCheck"] = cell.colorCheck.model_dump(mode="json") if cell.colorCheck else None
        costs = cost_figures(entry.raw)
        if costs:
            item["cost"] = costs
        cells.append(item)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "batchId": batch.batchId,
        "status": str(batch.status),
        "createdAt": batch.createdAt,
        "completedAt": batch.completedAt,
        "builtAt": built_at,
        "angles": [{"key": key, "label": angle_labels.get(key, key)} for key in batch.angles],
        "colors": [{"key": key, "label": color_labels.get(key, key)} for key in batch.colors],
        "totalJobs": batch.totalJobs,
        "completedJobs": batch.completedJobs,
        "failedJobs": batch.failedJobs,
        "images": sum(1 for entry in entries if entry.file),
        "matrix": matrix,
        "cells": cells,
    }
    costs = {**cost_figures(batch_raw), **(cost or {})}
    if costs:
        manifest["cost"] = costs
    return manifest
