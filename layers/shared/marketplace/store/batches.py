"""Batches and their cells: creation, reads, colour cells added later, the batch's completion."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .. import keys
from ..domain import Batch, Cell
from ..errors import NotFound, StateConflict
from ..statuses import BatchStatus
from .gallery import owner_page
from .table import Table, conditional, from_item, now_iso, to_item, values

_BATCH_WRITE_SIZE = 25
_WRITE_THREADS = 8
# What the batch list reads of a cell (its cost and the thumbnail), not its prompt or inputs.
_CELL_SUMMARY = "batchId, angleKey, colorKey, #type, #status, thumbKey, predictionCount, imageCount, attempt"


def counter_update(table: str, batch_id: str, counter: str, now: str, by: int = 1) -> dict[str, Any]:
    """The batch counter's part of a cell's terminal transaction (``by=-1``: a retry takes the cell
    back out of it)."""
    return {
        "Update": {
            "TableName": table,
            "Key": keys.batch_key(batch_id),
            "UpdateExpression": f"SET {counter} = if_not_exists({counter}, :zero) + :by, updatedAt = :now",
            "ExpressionAttributeValues": values(zero=0, by=by, now=now),
        }
    }


def cell_row(cell: Cell) -> dict[str, Any]:
    return {**keys.cell_ids(cell.batchId, cell.angleKey, cell.colorKey), **cell.attributes()}


class BatchRows:
    table: Table

    def create_batch(self, batch: Batch, cells: list[Cell]) -> None:
        """Writes the batch, its owner index row and every cell (batched, in parallel)."""
        meta = {**keys.batch_ids(batch.batchId), **batch.attributes()}
        with conditional() as written:
            self.table.client.put_item(
                TableName=self.table.name, Item=to_item(meta), ConditionExpression="attribute_not_exists(PK)"
            )
        if not written.held:
            raise StateConflict(f"batch {batch.batchId} exists", field="batchId")
        owner_row = {**keys.owner_batch_ids(batch.owner, batch.createdAt, batch.batchId), "batchId": batch.batchId}
        self._batch_put([owner_row, *(cell_row(c) for c in cells)])

    def _batch_put(self, rows: list[dict[str, Any]]) -> None:
        chunks = [rows[i : i + _BATCH_WRITE_SIZE] for i in range(0, len(rows), _BATCH_WRITE_SIZE)]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._write_chunk(chunk)
            return
        with ThreadPoolExecutor(max_workers=min(_WRITE_THREADS, len(chunks))) as pool:
            list(pool.map(self._write_chunk, chunks))

    def _write_chunk(self, rows: list[dict[str, Any]]) -> None:
        requests = [{"PutRequest": {"Item": to_item(row)}} for row in rows]
        delay = 0.05
        while requests:
            answer = self.table.client.batch_write_item(RequestItems={self.table.name: requests})
            requests = answer.get("UnprocessedItems", {}).get(self.table.name, [])
            if requests:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def get_batch(self, batch_id: str) -> Batch | None:
        item = self.table.get(keys.batch_key(batch_id))
        return Batch.model_validate(item) if item else None

    def get_owned_batch(self, batch_id: str, owner: str) -> Batch:
        """The batch if it belongs to owner; anyone else gets the same NotFound as a missing id."""
        batch = self.get_batch(batch_id)
        if batch is None or batch.owner != owner:
            raise NotFound(f"batch {batch_id} not found", field="batchId")
        return batch

    def list_cells(self, batch_id: str) -> list[Cell]:
        return self._query_cells(batch_id, ConsistentRead=True)

    def _query_cells(self, batch_id: str, **options: Any) -> list[Cell]:
        """Every cell row of the batch (``options``: the query's consistency or projection)."""
        return [
            Cell.model_validate(item)
            for item in self.table.query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :cell)",
                ExpressionAttributeValues=values(pk=keys.batch_pk(batch_id), cell=keys.CELL_PREFIX),
                **options,
            )
        ]

    def get_cell(self, batch_id: str, angle_key: str, color_key: str | None) -> Cell | None:
        item = self.table.get(keys.cell_key(batch_id, angle_key, color_key))
        return Cell.model_validate(item) if item else None

    def add_color_cells(self, batch_id: str, cells: list[Cell], colors: list[str], run_id: str) -> list[Cell]:
        """Creates colour cells that do not exist yet; returns only the ones this call created."""

        def put(cell: Cell) -> Cell | None:
            with conditional() as written:
                self.table.client.put_item(
                    TableName=self.table.name, Item=to_item(cell_row(cell)), ConditionExpression="attribute_not_exists(PK)"
                )
            return cell if written.held else None

        with ThreadPoolExecutor(max_workers=_WRITE_THREADS) as pool:
            created = [c for c in pool.map(put, cells) if c is not None]
        if created:
            self._run_again(batch_id, [run_id], "totalJobs = totalJobs + :n, colors = :colors, ",
                            n=len(created), colors=colors)
        return created

    def complete_batch_if_done(self, batch_id: str) -> Batch | None:
        """running -> its outcome (``BatchStatus.outcome``) when every cell is terminal. Returns the
        batch only for the caller that made the transition, so the completion is announced once."""
        batch = self.get_batch(batch_id)
        if batch is None or batch.status != BatchStatus.RUNNING or batch.done_jobs < batch.totalJobs:
            return None
        outcome = BatchStatus.outcome(batch.totalJobs, batch.completedJobs)
        answer: dict[str, Any] = {}
        with conditional() as changed:
            answer = self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.batch_key(batch_id),
                UpdateExpression="SET #status = :outcome, completedAt = :now, updatedAt = :now",
                ConditionExpression="#status = :running AND totalJobs = :total AND completedJobs = :completed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values(
                    outcome=outcome, running=BatchStatus.RUNNING, total=batch.totalJobs,
                    completed=batch.completedJobs, now=now_iso(),
                ),
                ReturnValues="ALL_NEW",
            )
        if not changed.held:
            return None
        return Batch.model_validate(from_item(answer["Attributes"]))

    def reopen_batch(self, batch_id: str, run_ids: list[str]) -> None:
        """A retry: the batch runs again."""
        self._run_again(batch_id, run_ids)

    def _run_again(self, batch_id: str, run_ids: list[str], also_set: str = "", **also: Any) -> None:
        """The batch is running again, with ``run_ids`` listed (so a cancel can stop them) and no
        completedAt; ``also_set`` (``"name = :value, "``…) and its values change with it."""
        self.table.client.update_item(
            TableName=self.table.name,
            Key=keys.batch_key(batch_id),
            UpdateExpression=f"SET {also_set}#status = :running, updatedAt = :now, "
                             "runIds = list_append(if_not_exists(runIds, :none), :runs) REMOVE completedAt",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values(running=BatchStatus.RUNNING, now=now_iso(), none=[], runs=run_ids, **also),
        )

    def cancel_batch(self, batch_id: str) -> bool:
        """running -> canceled. False when the batch was not running (already canceled, or done)."""
        with conditional() as changed:
            self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.batch_key(batch_id),
                UpdateExpression="SET #status = :canceled, canceledAt = :now, updatedAt = :now",
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values(canceled=BatchStatus.CANCELED, running=BatchStatus.RUNNING,
                                                 now=now_iso()),
            )
        return changed.held

    # -- the owner's batches, newest first (the batch list) --------------------------------------

    def list_owner_batches(self, owner: str, limit: int, next_token: str | None) -> tuple[list[Batch], str | None]:
        """A page of owner's batches, newest first, from the owner's index rows (``OWNER#`` /
        ``BATCH#{createdAt}#{batchId}``) and one BatchGetItem of their rows. The token is the last
        index row's key, bound to the owner like the gallery's."""
        items, token = owner_page(self.table, owner, keys.OWNER_BATCH_PREFIX, limit, next_token,
                                  keys.owner_batch_row_ids)
        batch_ids = [from_item(item)["batchId"] for item in items]
        rows = self.table.get_many([keys.batch_key(b) for b in batch_ids]) if batch_ids else []
        batches = [Batch.model_validate(row) for row in rows if row is not None and row.get("owner") == owner]
        return batches, token

    def list_cell_summaries(self, batch_id: str) -> list[Cell]:
        """A batch's cells with only what a summary needs (status, thumbnail, counters)."""
        return self._query_cells(batch_id, ProjectionExpression=_CELL_SUMMARY,
                                 ExpressionAttributeNames={"#type": "type", "#status": "status"})
