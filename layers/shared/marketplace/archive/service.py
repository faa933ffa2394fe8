"""The API's side of the ZIP export: ask for a build, read its state (light: no Pillow, no zip).

`request_archive` records the archive as `building` and invokes the builder Lambda
asynchronously (`InvocationType=Event`): the ZIP is built off the request path. Asking again
while it builds changes nothing (the answer is still `building`); after `ready` or `failed` a new
request rebuilds (the batch may have changed). `archive_state` answers `building`, `ready` (with
a presigned GET of the ZIP, signed anew on every read, its size and image count) or `failed`
(with the reason). Another owner's batch, an unknown batch and a batch never archived are 404.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..aws import _client, s3_client
from ..config import get_settings
from ..errors import NotFound, RetryLater
from ..observability import bind_batch, logger
from ..repository import get_repository, now_iso
from ..urls import PRESIGNED_GET_SECONDS
from .store import ArchiveRecord, ArchiveRows, ArchiveStatus

# The builder's Timeout in template.yaml (Lambda's maximum): a build still `building` a minute
# after that has no one left to finish it, and a new request may start over.
BUILD_TIMEOUT_SECONDS = 900
STALE_AFTER_SECONDS = BUILD_TIMEOUT_SECONDS + 60
STALE_ERROR = "the build did not finish in time; ask for the archive again"


class ArchiveAnswer(BaseModel):
    """``GET`` (and ``POST``) ``/batch/{batchId}/archive``."""

    status: Literal["building", "ready", "failed"]
    url: str | None = Field(default=None, description="ready: a presigned GET of the ZIP, signed on every read")
    bytes: int | None = Field(default=None, description="ready: the ZIP's size")
    images: int | None = Field(default=None, description="ready: the cell images in it")
    error: str | None = Field(default=None, description="failed: why")


@lru_cache(maxsize=1)
def lambda_client() -> Any:
    return _client("lambda")


def _rows() -> ArchiveRows:
    return ArchiveRows(get_repository().table)


def _stale_before(now: datetime) -> str:
    return (now - timedelta(seconds=STALE_AFTER_SECONDS)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def download_name(batch_id: str) -> str:
    return f"batch-{batch_id}.zip"


def archive_url(object_key: str, batch_id: str) -> str:
    """Always presigned (never the public asset base): the ZIP is the owner's alone."""
    return str(s3_client().generate_presigned_url(
        "get_object",
        Params={"Bucket": get_settings().bucket_name, "Key": object_key,
                "ResponseContentDisposition": f'attachment; filename="{download_name(batch_id)}"'},
        ExpiresIn=PRESIGNED_GET_SECONDS,
    ))


def invoke_builder(batch_id: str, build_id: str) -> None:
    """Starts the builder Lambda without waiting for it (Lambda queues the event)."""
    lambda_client().invoke(
        FunctionName=get_settings().archive_function_name,
        InvocationType="Event",
        Payload=json.dumps({"batchId": batch_id, "buildId": build_id}).encode(),
    )


def request_archive(owner: str, batch_id: str) -> dict[str, Any]:
    get_repository().get_owned_batch(batch_id, owner)  # another owner's batch is NotFound too
    bind_batch(batch_id)
    build_id = uuid.uuid4().hex
    rows = _rows()
    if not rows.start(batch_id, owner, build_id, now_iso(), _stale_before(datetime.now(UTC))):
        logger.info("archive already building")
        return {"status": str(ArchiveStatus.BUILDING)}
    try:
        invoke_builder(batch_id, build_id)
    except Exception as error:
        logger.exception("archive builder could not be invoked")
        rows.fail(batch_id, build_id, "the builder could not be started", now_iso())
        raise RetryLater("the archive builder could not be started; try again", field="batchId") from error
    logger.info("archive requested", extra={"build_id": build_id})
    return {"status": str(ArchiveStatus.BUILDING)}


def archive_state(owner: str, batch_id: str) -> dict[str, Any]:
    get_repository().get_owned_batch(batch_id, owner)
    bind_batch(batch_id)
    record = _rows().get(batch_id)
    if record is None or record.owner != owner:
        raise NotFound(f"batch {batch_id} has no archive yet: POST to build one", field="batchId")
    return state_view(record, batch_id)


def state_view(record: ArchiveRecord, batch_id: str) -> dict[str, Any]:
    if record.status == ArchiveStatus.READY and record.objectKey:
        return {"status": str(record.status), "url": archive_url(record.objectKey, batch_id),
                "bytes": record.bytes, "images": record.images}
    if record.status == ArchiveStatus.BUILDING:
        if record.requestedAt < _stale_before(datetime.now(UTC)):
            return {"status": str(ArchiveStatus.FAILED), "error": STALE_ERROR}
        return {"status": str(ArchiveStatus.BUILDING)}
    return {"status": str(ArchiveStatus.FAILED), "error": record.error or "the build failed"}
