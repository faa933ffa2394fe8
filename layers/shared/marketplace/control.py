"""The dealer's control over a running or finished batch: retry / regenerate cells, cancel.

Retry: any terminal cell can run again as its next attempt (a completed one is regenerated: its
new image becomes the cell's, the old one stays in the gallery). A retried angle re-runs every
colour cell of its angle after it completes, fed its new output. The cells join a new run
(``{batchId}-retry-{12 hex}``; colour cells whose angle is not retried go in a colour-only run,
``…-colors``) and the batch is ``running`` again until that run ends.

Cancel: the batch's runs are stopped, its open cells become ``canceled`` (pushed), every
prediction in flight is cancelled at Replicate, and nothing is created for the batch afterwards
(RunPrediction finds the cell terminal). An output that still arrives for a cancelled cell is not
stored: the dealer asked for the batch to stop, so nothing changes under them (a retry makes the
cell again). Cancelling twice is harmless.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from . import predictions, pricing, workflow
from .cells import push_cell
from .config import get_settings
from .domain import Cell
from .errors import Conflict, ReplicateRateLimited, ReplicateRejected, ReplicateUnavailable, ValidationFailed
from .models import CellRef, RetryRequest
from .observability import bind_batch, logger, metrics
from .repository import get_repository
from .statuses import OPEN, BatchStatus, CellStatus

CANCELED_BY_DEALER = "canceled by the dealer"
_THREADS = 8


def retry(owner: str, batch_id: str, request: RetryRequest) -> dict[str, Any]:
    repo = get_repository()
    batch = repo.get_owned_batch(batch_id, owner)
    bind_batch(batch_id)
    cells = {(c.angleKey, c.colorKey): c for c in repo.list_cells(batch_id)}
    chosen = _chosen(request.cells, cells)
    if not chosen:
        raise Conflict("the batch has no failed or canceled cell to retry", field="cells")

    run_id = f"{batch_id}-retry-{uuid.uuid4().hex[:12]}"
    angles = {c.angleKey for c in chosen if c.is_angle}
    chosen_keys = {(c.angleKey, c.colorKey) for c in chosen}
    # A retried angle re-runs all its colour cells, fed its new output.
    followers = [c for k, c in cells.items() if not c.is_angle and c.angleKey in angles and k not in chosen_keys]
    busy = [c for c in followers if c.status in OPEN]
    if busy:
        raise Conflict(f"cell {busy[0].label} is still {busy[0].status}: retry its angle when it is done", field="cells")
    with_angles = [c for c in chosen if c.angleKey in angles] + followers
    colors_only = [c for c in chosen if c.angleKey not in angles]
    runs: list[tuple[str, list[Cell], bool]] = []  # (run id, its cells, whether it runs angles)
    if with_angles:
        runs.append((run_id, with_angles, True))
    if colors_only:
        runs.append((f"{run_id}-colors" if with_angles else run_id, colors_only, False))

    reopened: list[Cell] = []
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        for run, group, _ in runs:
            for cell in pool.map(lambda c, r=run: repo.reopen_cell(c, r), group):
                if cell is None:
                    raise Conflict("a cell changed while it was being retried: try again", field="cells")
                reopened.append(cell)
    repo.reopen_batch(batch_id, [run for run, _, _ in runs])
    for cell in reopened:
        push_cell(owner, cell)
    for run, group, run_angles in runs:
        colors = [k for k in batch.colors if any(c.colorKey == k for c in group)]
        workflow.start_execution(workflow.execution_input(
            batch_id, run, sorted({c.angleKey for c in group}), colors, owner=owner,
            run_angle=run_angles, run_colors=bool(colors),
        ))
    metrics.add_metric(name="CellsRetried", unit="Count", value=len(reopened))
    logger.info("cells retried", extra={"cells": len(reopened), "runs": [run for run, _, _ in runs]})
    return {"batchId": batch_id, "retried": [_ref(c) for c in reopened], "totalJobs": batch.totalJobs,
            "estimate": pricing.estimate(len(reopened), get_settings().price_per_image_usd)}


def _chosen(refs: list[CellRef] | None, cells: dict[tuple[str, str | None], Cell]) -> list[Cell]:
    if refs is None:
        return [c for c in cells.values() if c.status in (CellStatus.FAILED, CellStatus.CANCELED)]
    chosen: list[Cell] = []
    for index, ref in enumerate(refs):
        cell = cells.get((ref.angleKey, ref.colorKey or None))
        if cell is None:
            raise ValidationFailed(f"cell {ref.angleKey}/{ref.colorKey or '-'} is not part of this batch",
                                   field=f"cells[{index}]")
        if cell.status in OPEN:
            raise Conflict(f"cell {cell.label} is still {cell.status}", field=f"cells[{index}]")
        if any(c is cell for c in chosen):
            raise ValidationFailed(f"cell {cell.label} is listed twice", field=f"cells[{index}]")
        chosen.append(cell)
    return chosen


def _ref(cell: Cell) -> dict[str, str | None]:
    return {"angleKey": cell.angleKey, "colorKey": cell.colorKey}


def cancel(owner: str, batch_id: str) -> dict[str, Any]:
    repo = get_repository()
    batch = repo.get_owned_batch(batch_id, owner)
    bind_batch(batch_id)
    if batch.status != BatchStatus.CANCELED and not repo.cancel_batch(batch_id):
        raise Conflict(f"the batch has already finished ({batch.status})", field="batchId")
    for run_id in batch.runIds or [batch_id]:
        workflow.stop_execution(run_id, CANCELED_BY_DEALER)
    open_cells = [c for c in repo.list_cells(batch_id) if c.status in OPEN]
    with ThreadPoolExecutor(max_workers=_THREADS) as pool:
        closed = [c for c in pool.map(lambda c: _cancel_cell(owner, c), open_cells) if c is not None]
    if closed:
        metrics.add_metric(name="CellsCanceled", unit="Count", value=len(closed))
    logger.info("batch canceled", extra={"cells": len(closed)})
    return {"batchId": batch_id, "status": BatchStatus.CANCELED, "canceled": len(closed)}


def _cancel_cell(owner: str, cell: Cell) -> Cell | None:
    closed = get_repository().cancel_cell(cell.batchId, cell.angleKey, cell.colorKey, CANCELED_BY_DEALER)
    if closed is None:
        return None  # it finished meanwhile: a finished image is kept
    push_cell(owner, closed)
    if closed.predictionId:
        try:
            predictions.cancel_prediction(closed.predictionId)
        except (ReplicateUnavailable, ReplicateRejected, ReplicateRateLimited) as error:
            # The cell is canceled either way; a late output is not stored (see the module doc).
            logger.warning("prediction not cancelled at Replicate", extra={"prediction_id": closed.predictionId,
                                                                          "error": str(error)})
    if closed.taskToken:
        workflow.send_task_failure(closed.taskToken, "Canceled", CANCELED_BY_DEALER)
    return closed

