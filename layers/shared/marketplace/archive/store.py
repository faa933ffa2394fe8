"""The archive's row (`BATCH#{id}` / `ARCHIVE`, keys in `marketplace.keys`): one per batch.

`start` makes it `building` with a new build id unless a build is already under way (and not
stale: a build that outlived its Lambda's timeout left no one to finish it). Only the build that
holds the current id may finish or fail it, so an old build (a retried or late event) never
overwrites a newer one's answer. The previous ready ZIP's key stays on the row while a new one
builds, so the builder can delete it once the new one is recorded.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from .. import keys
from ..domain import Record
from ..store.table import Table, conditional, values


class ArchiveStatus(StrEnum):
    BUILDING = "building"
    READY = "ready"
    FAILED = "failed"


class ArchiveRecord(Record):
    batchId: str
    owner: str
    status: ArchiveStatus
    buildId: str
    requestedAt: str
    updatedAt: str | None = None
    objectKey: str | None = None  # the ready ZIP (while building: the previous one, if any)
    bytes: int | None = None
    images: int | None = None
    error: str | None = None
    builtAt: str | None = None


class ArchiveRows:
    def __init__(self, table: Table | None = None) -> None:
        self.table = table or Table()

    def get(self, batch_id: str) -> ArchiveRecord | None:
        item = self.table.get(keys.archive_key(batch_id))
        return ArchiveRecord.model_validate(item) if item else None

    def start(self, batch_id: str, owner: str, build_id: str, now: str, stale_before: str) -> bool:
        """building with `build_id`; False (nothing changed) while another build is under way."""
        with conditional() as started:
            self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.archive_key(batch_id),
                UpdateExpression="SET batchId = :batch, #owner = :owner, #status = :building, buildId = :build, "
                                 "requestedAt = :now, updatedAt = :now REMOVE #error, #bytes, images, builtAt",
                ConditionExpression="attribute_not_exists(PK) OR #status <> :building OR requestedAt < :stale",
                ExpressionAttributeNames={"#owner": "owner", "#status": "status", "#error": "error", "#bytes": "bytes"},
                ExpressionAttributeValues=values(batch=batch_id, owner=owner, building=ArchiveStatus.BUILDING,
                                                 build=build_id, now=now, stale=stale_before),
            )
        return started.held

    def _settle(self, batch_id: str, build_id: str, expression: str, names: dict[str, str], **attributes: Any) -> bool:
        with conditional() as settled:
            self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.archive_key(batch_id),
                UpdateExpression=expression,
                ConditionExpression="buildId = :build AND #status = :building",
                ExpressionAttributeNames={"#status": "status", **names},
                ExpressionAttributeValues=values(build=build_id, building=ArchiveStatus.BUILDING, **attributes),
            )
        return settled.held

    def finish(self, batch_id: str, build_id: str, object_key: str, size: int, images: int, now: str) -> bool:
        return self._settle(
            batch_id, build_id,
            "SET #status = :ready, objectKey = :key, #bytes = :size, images = :images, builtAt = :now, updatedAt = :now",
            {"#bytes": "bytes"}, ready=ArchiveStatus.READY, key=object_key, size=size, images=images, now=now,
        )

    def fail(self, batch_id: str, build_id: str, error: str, now: str) -> bool:
        return self._settle(
            batch_id, build_id, "SET #status = :failed, #error = :error, updatedAt = :now REMOVE objectKey",
            {"#error": "error"}, failed=ArchiveStatus.FAILED, error=error[:1000], now=now,
        )
