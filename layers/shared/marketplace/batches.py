"""Batches: creation (cells with their exact prompts), snapshots, colourise later, gallery."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from . import pricing
from .aws import dynamodb_client
from .config import get_settings
from .domain import Batch, Cell
from .errors import Conflict, ValidationFailed
from .models import ColorizeRequest, CreateBatchRequest
from .notifier import get_notifier
from .observability import bind_batch, logger, metrics
from .presets import Presets, get_presets
from .prompts import build_angle_prompt, build_color_prompt
from .repository import get_repository, now_iso
from .source_urls import check_source_url, preview_urls
from .statuses import CellStatus, CellType
from .views import BATCH_CREATED, JOB_UPDATED, batch_list_item, cell_counts, cell_view, gallery_item, job_updated
from .workflow import execution_input, start_execution

IDEMPOTENCY_SECONDS = 24 * 3600
T = TypeVar("T")


def _check_unique(keys: list[str], field: str) -> None:
    seen: set[str] = set()
    for index, key in enumerate(keys):
        if key in seen:
            raise ValidationFailed(f"{key!r} is listed twice", field=f"{field}[{index}]")
        seen.add(key)


def _check_enabled(requested: list[str], enabled: set[str], field: str, what: str) -> None:
    """Each key listed once, each an enabled row of the sheet; the 422 names the entry."""
    _check_unique(requested, field)
    for index, key in enumerate(requested):
        if key not in enabled:
            raise ValidationFailed(f"unknown or disabled {what} {key!r}", field=f"{field}[{index}]")


def _check_angles(presets: Presets, angles: list[str]) -> None:
    _check_enabled(angles, {a.angle_key for a in presets.enabled_angles()}, "angles", "angle")


def _check_colors(presets: Presets, colors: list[str]) -> None:
    _check_enabled(colors, {c.color_key for c in presets.enabled_colors()}, "colors", "colour")


def _present(value: T | None, what: str) -> T:
    """Keys were validated against these presets already; a miss is a programming error."""
    if value is None:
        raise LookupError(f"{what} missing from the presets")
    return value


def _angle_cell(batch_id: str, run_id: str, owner: str, sources: list[str], presets: Presets, angle_key: str,
                now: str) -> Cell:
    """An angle cell carries what its prediction needs (owner, sources): RunPrediction reads one row."""
    template = _present(presets.prompt("angle_generation"), "angle_generation")
    prompt = build_angle_prompt(template, _present(presets.angle(angle_key), angle_key))
    return Cell(batchId=batch_id, runId=run_id, owner=owner, sourceImageUrls=sources, type=CellType.ANGLE,
                angleKey=angle_key, prompt=prompt, createdAt=now, updatedAt=now)


def _color_cell(batch_id: str, run_id: str, owner: str, presets: Presets, angle_key: str, color_key: str,
                now: str) -> Cell:
    template = _present(presets.prompt("colorization"), "colorization")
    color = _present(presets.color(color_key), color_key)
    prompt = build_color_prompt(template, color)
    # The prompt value is frozen with the prompt: the colour check reads its target from it.
    return Cell(batchId=batch_id, runId=run_id, owner=owner, type=CellType.COLOR, angleKey=angle_key,
                colorKey=color_key, prompt=prompt, promptValue=color.prompt_value, createdAt=now, updatedAt=now)


def create_batch(owner: str, request: CreateBatchRequest, idempotency_key: str | None = None) -> dict[str, Any]:
    """Validates against the live presets, writes batch + cells, starts the workflow; the answer
    carries the estimate (one prediction per cell)."""
    answer = _create_once(owner, request, idempotency_key)
    return {**answer, "estimate": pricing.estimate(answer["totalJobs"], get_settings().price_per_image_usd)}


def _create_once(owner: str, request: CreateBatchRequest, idempotency_key: str | None) -> dict[str, Any]:
    """The same Idempotency-Key with another body, or while its first request still runs, is a
    Conflict."""
    if not idempotency_key:
        return _create_batch(owner, request)
    # Powertools' idempotency (and boto3 with it) is imported by the first keyed create only.
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    context = getattr(_invocation, "context", None)
    if context is not None:
        _idempotency_config().register_lambda_context(context)
    try:
        return _idempotent_create()(request={"owner": owner, "key": idempotency_key, "body": request.model_dump()})
    except IdempotencyValidationError:
        raise Conflict("Idempotency-Key was used with a different body", field="Idempotency-Key") from None
    except IdempotencyAlreadyInProgressError:
        raise Conflict("a request with this Idempotency-Key is in progress", field="Idempotency-Key") from None


_invocation = threading.local()  # the local stack runs invocations side by side in one process


def register_lambda_context(context: Any) -> None:
    """Idempotency records of this invocation expire with it: a create that times out leaves an
    in-progress record that lapses when the Lambda's time is up, not one that locks its
    Idempotency-Key for IDEMPOTENCY_SECONDS."""
    _invocation.context = context


@lru_cache(maxsize=1)
def _idempotency_config() -> Any:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

    # The body is validated too: the same key with a different body is refused, not replayed.
    return IdempotencyConfig(
        event_key_jmespath="[owner, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_SECONDS,
    )


@lru_cache(maxsize=1)
def _idempotent_create() -> Any:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, idempotent_function

    persistence = DynamoDBPersistenceLayer(
        table_name=get_settings().table_name,
        key_attr="PK",
        sort_key_attr="SK",
        expiry_attr="ttl",
        boto3_client=dynamodb_client(),
    )

    @idempotent_function(data_keyword_argument="request", persistence_store=persistence, config=_idempotency_config())
    def create(request: dict[str, Any]) -> dict[str, Any]:
        return _create_batch(request["owner"], CreateBatchRequest.model_validate(request["body"]))

    return create


def _create_batch(owner: str, request: CreateBatchRequest) -> dict[str, Any]:
    presets = get_presets()
    _check_angles(presets, request.angles)
    _check_colors(presets, request.colors)
    _check_unique(request.sourceImageUrls, "sourceImageUrls")
    for index, url in enumerate(request.sourceImageUrls):
        check_source_url(url, field=f"sourceImageUrls[{index}]")

    batch_id = uuid.uuid4().hex
    bind_batch(batch_id)
    now = now_iso()
    colors = request.colors if request.autoColorize else []
    cells: list[Cell] = []
    for angle_key in request.angles:
        cells.append(_angle_cell(batch_id, batch_id, owner, request.sourceImageUrls, presets, angle_key, now))
        cells.extend(_color_cell(batch_id, batch_id, owner, presets, angle_key, c, now) for c in colors)
    batch = Batch(
        batchId=batch_id, owner=owner, sourceImageUrls=request.sourceImageUrls, angles=request.angles,
        colors=request.colors, autoColorize=request.autoColorize, totalJobs=len(cells), runIds=[batch_id],
        createdAt=now, updatedAt=now,
    )
    logger.debug(
        "[MP] batch body",
        extra={"sources": len(request.sourceImageUrls), "angles": len(request.angles),
               "colors": len(request.colors), "auto_colorize": request.autoColorize, "cells": len(cells)},
    )
    get_repository().create_batch(batch, cells)
    # The creation run is named after the batch (a retried create finds it already started).
    start_execution(execution_input(batch_id, batch_id, request.angles, colors, owner=owner, run_angle=True,
                                    run_colors=bool(colors)))
    get_notifier().push_to_owner(
        owner, BATCH_CREATED,
        {"batchId": batch_id, "totalJobs": len(cells), "angles": request.angles, "colors": colors},
    )
    metrics.add_metric(name="BatchesCreated", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="CellsQueued", unit=MetricUnit.Count, value=len(cells))
    logger.info("batch created", extra={"total_jobs": len(cells)})
    return {"batchId": batch_id, "totalJobs": len(cells), "cells": [cell_view(c) for c in cells]}


def _ordered(batch: Batch, cells: list[Cell]) -> list[Cell]:
    angle_rank = {a: i for i, a in enumerate(batch.angles)}
    color_rank = {c: i for i, c in enumerate(batch.colors)}
    return sorted(
        cells,
        key=lambda c: (angle_rank.get(c.angleKey, 1 << 30), -1 if not c.colorKey else color_rank.get(c.colorKey, 1 << 30)),
    )


def get_snapshot(owner: str, batch_id: str) -> dict[str, Any]:
    repo = get_repository()
    batch = repo.get_owned_batch(batch_id, owner)
    cells = _ordered(batch, repo.list_cells(batch_id))
    return {
        "batchId": batch_id,
        "status": str(batch.status),
        "angles": batch.angles,
        "colors": batch.colors,
        "autoColorize": batch.autoColorize,
        "totalJobs": batch.totalJobs,
        "completedJobs": batch.completedJobs,
        "failedJobs": batch.failedJobs,
        "counts": cell_counts(cells),
        "createdAt": batch.createdAt,
        "sourceImageUrls": batch.sourceImageUrls,
        "sourcePreviewUrls": preview_urls(batch.sourceImageUrls),
        "cells": [cell_view(c) for c in cells],
        "cost": batch_cost(cells, get_settings().price_per_image_usd),
    }


def _billed_images(cell: Cell) -> int:
    """The cell's counter of completed attempts; a cell completed before the counter existed
    counts its image once."""
    if cell.imageCount is not None:
        return cell.imageCount
    return 1 if cell.status == CellStatus.COMPLETED else 0


def batch_cost(cells: list[Cell], price_per_image_usd: float) -> dict[str, Any]:
    """``{predictions, billedImages, costUsd}`` from the cells' counters."""
    return pricing.cost(sum(c.predictionCount or 0 for c in cells), sum(_billed_images(c) for c in cells),
                        price_per_image_usd)


def snapshot_messages(owner: str, batch_id: str) -> list[dict[str, Any]]:
    """The batch's cells as marketplaceJobUpdated payloads, for a late or reconnecting client."""
    repo = get_repository()
    batch = repo.get_owned_batch(batch_id, owner)
    return [job_updated(batch_id, c) for c in _ordered(batch, repo.list_cells(batch_id))]


def colorize(owner: str, batch_id: str, request: ColorizeRequest) -> dict[str, Any]:
    """Colour cells for finished angles, prompts from the sheets as they are now."""
    repo = get_repository()
    batch = repo.get_owned_batch(batch_id, owner)
    bind_batch(batch_id)
    presets = get_presets()
    _check_colors(presets, request.colors)
    angles = request.angles if request.angles is not None else list(batch.angles)
    _check_unique(angles, "angles")
    cells = {(c.angleKey, c.colorKey): c for c in repo.list_cells(batch_id)}
    for index, angle_key in enumerate(angles):
        angle = cells.get((angle_key, None))
        if angle is None:
            raise ValidationFailed(f"angle {angle_key!r} is not part of this batch", field=f"angles[{index}]")
        if angle.status != CellStatus.COMPLETED:
            raise Conflict(f"angle {angle_key!r} is not finished (it is {angle.status})", field=f"angles[{index}]")

    now = now_iso()
    run_id = f"{batch_id}-colorize-{uuid.uuid4().hex[:12]}"
    wanted = [
        _color_cell(batch_id, run_id, owner, presets, a, c, now)
        for a in angles for c in request.colors if (a, c) not in cells
    ]
    all_colors = list(batch.colors) + [c for c in request.colors if c not in batch.colors]
    created = repo.add_color_cells(batch_id, wanted, all_colors, run_id) if wanted else []
    if created:
        notifier = get_notifier()
        for cell in created:
            notifier.push_to_owner(owner, JOB_UPDATED, job_updated(batch_id, cell))
        # The run crosses its angles with its colours; a pair that existed before belongs to an
        # earlier run, and RunPrediction lets it pass (cells carry their runId).
        run_angles = list(dict.fromkeys(cell.angleKey for cell in created))
        run_colors = list(dict.fromkeys(str(cell.colorKey) for cell in created))
        start_execution(execution_input(batch_id, run_id, run_angles, run_colors, owner=owner, run_angle=False,
                                        run_colors=True))
    total = repo.get_owned_batch(batch_id, owner).totalJobs
    metrics.add_metric(name="CellsQueued", unit=MetricUnit.Count, value=len(created))
    logger.info("colorize accepted", extra={"created_jobs": len(created)})
    return {"batchId": batch_id, "totalJobs": total, "createdJobs": len(created),
            "estimate": pricing.estimate(len(created), get_settings().price_per_image_usd)}


# A batch's images are looked for from a little before its creation (clocks of different hosts).
_GALLERY_CLOCK_MARGIN = timedelta(minutes=10)
_SUMMARY_THREADS = 8


def list_gallery(owner: str, limit: int, next_token: str | None, batch_id: str | None = None) -> dict[str, Any]:
    """The owner's images, newest first; with ``batch_id`` only that batch's (another owner's
    batch is the same NotFound as a missing one, as on every batch route)."""
    repo = get_repository()
    since = None
    if batch_id is not None:
        bind_batch(batch_id)
        created = datetime.fromisoformat(repo.get_owned_batch(batch_id, owner).createdAt)
        since = (created - _GALLERY_CLOCK_MARGIN).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    items, token = repo.list_gallery(owner, limit, next_token, batch_id=batch_id, since=since)
    return {"items": [gallery_item(i) for i in items], "nextToken": token}


def list_batches(owner: str, limit: int, next_token: str | None) -> dict[str, Any]:
    """The owner's batches, newest first: status and counts from each batch row, cost and
    thumbnail from its cells (read in parallel, only the attributes a summary needs)."""
    repo = get_repository()
    rows, token = repo.list_owner_batches(owner, limit, next_token)
    price = get_settings().price_per_image_usd
    cells: list[list[Cell]] = []
    if rows:
        with ThreadPoolExecutor(max_workers=min(_SUMMARY_THREADS, len(rows))) as pool:
            cells = list(pool.map(lambda b: repo.list_cell_summaries(b.batchId), rows))
    items = [batch_list_item(b, _ordered(b, c), batch_cost(c, price), next(iter(preview_urls(b.sourceImageUrls[:1])), None))
             for b, c in zip(rows, cells, strict=True)]
    return {"items": items, "nextToken": token}
