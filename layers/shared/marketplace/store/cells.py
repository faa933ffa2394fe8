"""A cell's transitions, forward only: each is a conditional write, so a duplicate, late or
out-of-order delivery finds the cell further on and changes nothing (the method returns None)."""

from __future__ import annotations

from typing import Any

from .. import keys
from ..domain import Cell
from ..errors import StateConflict
from ..statuses import CellStatus
from .batches import counter_update
from .table import Table, conditional, from_item, now_iso, to_item, values

_STATUS = {"#status": "status"}
_OPEN = "attribute_exists(PK) AND NOT #status IN (:completed, :failed)"


def _open_cell_update(table: str, batch_id: str, angle_key: str, color_key: str | None, expression: str,
                      **named: Any) -> dict[str, Any]:
    """A transaction's update of a cell that must still be open (not completed, not failed)."""
    names = {**_STATUS, **({"#error": "error"} if "#error" in expression else {})}
    return {
        "Update": {
            "TableName": table,
            "Key": keys.cell_key(batch_id, angle_key, color_key),
            "UpdateExpression": expression,
            "ConditionExpression": _OPEN,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values(completed=CellStatus.COMPLETED, failed=CellStatus.FAILED, **named),
        }
    }


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
                    pid=prediction_id, token=task_token, input=image_input, processing=CellStatus.PROCESSING,
                    now=now, colors=color_count, pending=keys.PENDING, zero=0, one=1,
                    completed=CellStatus.COMPLETED, failed=CellStatus.FAILED,
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

    def complete_cell(self, cell: Cell, owner: str, image_key: str, thumb_key: str) -> Cell | None:
        """One transaction: cell completed + gallery asset (exactly once) + batch counter.

        Returns the completed cell, or None when the cell was already terminal (nothing written).
        """
        now = now_iso()
        asset_id = keys.asset_id(cell.batchId, cell.angleKey, cell.colorKey)
        asset = {**keys.asset_ids(owner, now, asset_id), "assetId": asset_id,
                 "batchId": cell.batchId, "angleKey": cell.angleKey, "colorKey": cell.colorKey,
                 "imageKey": image_key, "thumbKey": thumb_key, "createdAt": now}
        guard = {**keys.asset_guard_ids(asset_id), "assetSk": asset["SK"]}
        completed = self.table.transact([
            _open_cell_update(
                self.table.name, cell.batchId, cell.angleKey, cell.colorKey,
                "SET #status = :completed, imageKey = :image, thumbKey = :thumb, completedAt = :now, "
                "updatedAt = :now REMOVE GSI1PK, GSI1SK, #error",
                image=image_key, thumb=thumb_key, now=now,
            ),
            {"Put": {"TableName": self.table.name, "Item": to_item(guard), "ConditionExpression": "attribute_not_exists(PK)"}},
            {"Put": {"TableName": self.table.name, "Item": to_item(asset)}},
            counter_update(self.table.name, cell.batchId, "completedJobs", now),
        ])
        if not completed:
            return None
        return cell.model_copy(update={"status": CellStatus.COMPLETED, "imageKey": image_key, "thumbKey": thumb_key,
                                       "completedAt": now, "error": None})

    def fail_cell(self, batch_id: str, angle_key: str, color_key: str | None, error: str) -> Cell | None:
        """Marks a cell failed with its reason. None when it was already terminal."""
        now = now_iso()
        failed = self.table.transact([
            _open_cell_update(
                self.table.name, batch_id, angle_key, color_key,
                "SET #status = :failed, #error = :error, completedAt = :now, updatedAt = :now REMOVE GSI1PK, GSI1SK",
                error=error[:1000], now=now,
            ),
            counter_update(self.table.name, batch_id, "failedJobs", now),
        ])
        if not failed:
            return None
        item = self.table.get(keys.cell_key(batch_id, angle_key, color_key))
        return Cell.model_validate(item) if item else None

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
