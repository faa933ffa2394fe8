"""A cell's transitions, forward only: each is a conditional write, so a duplicate, late or
out-of-order delivery finds the cell further on and changes nothing (the method returns None).
The one way back is the dealer's retry: a terminal cell becomes queued again, a new attempt."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .. import keys
from ..domain import Cell, ColorCheck
from ..errors import StateConflict
from ..statuses import COUNTER, CellStatus
from .batches import counter_update
from .table import Table, conditional, from_item, now_iso, to_item, values

_STATUS = {"#status": "status"}
_OPEN = "attribute_exists(PK) AND #status IN (:queued, :processing)"
_OPEN_VALUES = {"queued": CellStatus.QUEUED, "processing": CellStatus.PROCESSING}


def _open_cell_update(table: str, batch_id: str, angle_key: str, color_key: str | None, expression: str,
                      **named: Any) -> dict[str, Any]:
    """A transaction's update of a cell that must still be open (queued or processing)."""
    names = {**_STATUS, **({"#error": "error"} if "#error" in expression else {})}
    return {
        "Update": {
            "TableName": table,
            "Key": keys.cell_key(batch_id, angle_key, color_key),
            "UpdateExpression": expression,
            "ConditionExpression": _OPEN,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(**_OPEN_VALUES, **named),
        }
    }


def _stored_check(check: ColorCheck) -> dict[str, Any]:
    """DynamoDB takes no floats: ΔE goes in as the Decimal of its one-decimal text."""
    stored = check.model_dump(mode="json")
    if stored.get("deltaE") is not None:
        stored["deltaE"] = Decimal(str(stored["deltaE"]))
    return stored


class CellRows:
    table: Table

    def record_prediction(self, cell: Cell, prediction_id: str, task_token: str, image_input: list[str],
                          color_count: int = 0) -> Cell:
        """The prediction exists: the cell is processing, with its prediction, task token and (an
        angle) how many colour jobs follow it. One conditional write; StateConflict when the cell
        was closed meanwhile."""
        now = now_iso()
        answer: dict[str, Any] = {}
        with conditional() as open_cell:
            answer = self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.cell_key(cell.batchId, cell.angleKey, cell.colorKey),
                UpdateExpression=(
                    "SET predictionId = :pid, taskToken = :token, imageInput = :input, #status = :processing, "
                    "startedAt = :now, updatedAt = :now, colorCount = :colors, GSI1PK = :pending, GSI1SK = :now, "
                    "predictionCount = if_not_exists(predictionCount, :zero) + :one"
                ),
                ConditionExpression=_OPEN,
                ExpressionAttributeNames=_STATUS,
                ExpressionAttributeValues=values(
                    pid=prediction_id, token=task_token, input=image_input,
                    now=now, colors=color_count, pending=keys.PENDING, zero=0, one=1, **_OPEN_VALUES,
                ),
                ReturnValues="ALL_NEW",
            )
        if not open_cell.held:
            raise StateConflict("cell is already terminal", field="cell")
        return Cell.model_validate(from_item(answer["Attributes"]))

    def update_task_token(self, cell: Cell, task_token: str) -> None:
        self.table.client.update_item(
            TableName=self.table.name,
            Key=keys.cell_key(cell.batchId, cell.angleKey, cell.colorKey),
            UpdateExpression="SET taskToken = :token, updatedAt = :now",
            ExpressionAttributeValues=values(token=task_token, now=now_iso()),
        )

    def complete_cell(self, cell: Cell, owner: str, image_key: str, thumb_key: str,
                      color_check: ColorCheck | None = None) -> Cell | None:
        """One transaction: cell completed (with its colour check, a colour cell) + gallery asset
        (exactly once) + batch counter.

        Returns the completed cell, or None when the cell was already terminal (nothing written).
        """
        now = now_iso()
        asset_id = keys.asset_id(cell.batchId, cell.angleKey, cell.colorKey, cell.attempt)
        asset = {**keys.asset_ids(owner, now, asset_id), "assetId": asset_id,
                 "batchId": cell.batchId, "angleKey": cell.angleKey, "colorKey": cell.colorKey,
                 "imageKey": image_key, "thumbKey": thumb_key, "createdAt": now}
        guard = {**keys.asset_guard_ids(asset_id), "assetSk": asset["SK"]}
        completed = self.table.transact([
            _open_cell_update(
                self.table.name, cell.batchId, cell.angleKey, cell.colorKey,
                "SET #status = :completed, imageKey = :image, thumbKey = :thumb, completedAt = :now, "
                "updatedAt = :now, "
                + ("colorCheck = :check, " if color_check is not None else "")
                + "imageCount = if_not_exists(imageCount, :zero) + :one "  # billed images (marketplace.pricing)
                "REMOVE GSI1PK, GSI1SK, #error",
                completed=CellStatus.COMPLETED, image=image_key, thumb=thumb_key, now=now, zero=0, one=1,
                **({"check": _stored_check(color_check)} if color_check is not None else {}),
            ),
            {"Put": {"TableName": self.table.name, "Item": to_item(guard), "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": self.table.name, "Item": to_item(asset)}},
            counter_update(self.table.name, cell.batchId, COUNTER[CellStatus.COMPLETED], now),
        ])
        if not completed:
            return None
        update: dict[str, Any] = {"status": CellStatus.COMPLETED, "imageKey": image_key, "thumbKey": thumb_key,
                                  "completedAt": now, "error": None}
        if color_check is not None:
            update["colorCheck"] = color_check
        return cell.model_copy(update=update)

    def fail_cell(self, batch_id: str, angle_key: str, color_key: str | None, error: str) -> Cell | None:
        """Marks a cell failed with its reason. None when it was already terminal."""
        return self._close(batch_id, angle_key, color_key, CellStatus.FAILED, error)

    def cancel_cell(self, batch_id: str, angle_key: str, color_key: str | None, reason: str) -> Cell | None:
        """Marks an open cell canceled (the dealer stopped the batch). None when it was terminal."""
        return self._close(batch_id, angle_key, color_key, CellStatus.CANCELED, reason)

    def _close(self, batch_id: str, angle_key: str, color_key: str | None, status: CellStatus, error: str) -> Cell | None:
        now = now_iso()
        closed = self.table.transact([
            _open_cell_update(
                self.table.name, batch_id, angle_key, color_key,
                "SET #status = :closed, #error = :error, completedAt = :now, updatedAt = :now REMOVE GSI1PK, GSI1SK",
                closed=status, error=error[:1000], now=now,
            ),
            counter_update(self.table.name, batch_id, COUNTER[status], now),
        ])
        if not closed:
            return None
        item = self.table.get(keys.cell_key(batch_id, angle_key, color_key))
        return Cell.model_validate(item) if item else None

    def reopen_cell(self, cell: Cell, run_id: str) -> Cell | None:
        """A retry: the terminal cell is queued again as its next attempt, owned by ``run_id``; its
        image stays until the new one replaces it. None when the cell is no longer in the status
        read (someone else moved it)."""
        now = now_iso()
        reopened = self.table.transact([
            {"Update": {
                "TableName": self.table.name,
                "Key": keys.cell_key(cell.batchId, cell.angleKey, cell.colorKey),
                "UpdateExpression": "SET #status = :queued, runId = :run, attempt = :attempt, updatedAt = :now "
                                    "REMOVE predictionId, taskToken, #error, completedAt, startedAt, GSI1PK, GSI1SK",
                "ConditionExpression": "#status = :seen AND attribute_not_exists(predictionId) OR "
                                       "#status = :seen AND predictionId = :pid",
                "ExpressionAttributeNames": {**_STATUS, "#error": "error"},
                "ExpressionAttributeValues": values(queued=CellStatus.QUEUED, run=run_id, attempt=cell.attempt + 1,
                                                    now=now, seen=cell.status, pid=cell.predictionId or "-"),
            }},
            counter_update(self.table.name, cell.batchId, COUNTER[cell.status], now, by=-1),
        ])
        if not reopened:
            return None
        return cell.model_copy(update={"status": CellStatus.QUEUED, "runId": run_id, "attempt": cell.attempt + 1,
                                       "predictionId": None, "taskToken": None, "error": None, "completedAt": None,
                                       "startedAt": None, "updatedAt": now})

    def list_pending_cells(self, updated_before: str, limit: int = 200) -> list[Cell]:
        """Cells with a prediction in flight whose last change is older than updated_before."""
        items = self.table.query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pending AND GSI1SK < :before",
            ExpressionAttributeValues=values(pending=keys.PENDING, before=updated_before),
            max_items=limit,
        )
        return [Cell.model_validate(item) for item in items]

    def touch_pending(self, cell: Cell) -> None:
        """The next sweep waits again for this still-running prediction."""
        self._set_if(cell, "SET GSI1SK = :now", "GSI1PK = :pending", pending=keys.PENDING)

    def _set_if(self, cell: Cell, expression: str, condition: str, **named: Any) -> None:
        """An update that only applies while condition holds (``:now`` is always bound)."""
        with conditional():
            self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.cell_key(cell.batchId, cell.angleKey, cell.colorKey),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values(now=now_iso(), **named),
            )
