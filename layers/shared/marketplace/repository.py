"""All DynamoDB access (one table). Turns ClientError codes into domain errors.

Cells move forward only (queued -> processing -> completed|failed); every transition is a
conditional write so duplicate, late or out-of-order deliveries change nothing.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .aws import dynamodb_client
from .config import get_settings
from .errors import NotFound, StateConflict, ValidationFailed

TERMINAL = ("completed", "failed")
STATUS_RANK = {"queued": 0, "processing": 1, "completed": 2, "failed": 2}
NO_COLOR = "-"
CONNECTION_TTL_SECONDS = 2 * 3600
WEBHOOK_RECEIPT_TTL_SECONDS = 24 * 3600
_BATCH_WRITE_SIZE = 25
_WRITE_THREADS = 8

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def batch_pk(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


def cell_sk(angle_key: str, color_key: str | None) -> str:
    return f"CELL#{angle_key}#{color_key or NO_COLOR}"


def cell_key(batch_id: str, angle_key: str, color_key: str | None) -> dict[str, Any]:
    return {"PK": {"S": batch_pk(batch_id)}, "SK": {"S": cell_sk(angle_key, color_key)}}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def to_item(data: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def _values(**values: Any) -> dict[str, Any]:
    return {f":{k}": _serializer.serialize(v) for k, v in values.items()}


def _is_condition_failure(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
    return False


class Repository:
    """Data access for batches, cells, predictions, connections and the gallery."""

    def __init__(self, client: Any = None, table_name: str | None = None) -> None:
        self._client = client or dynamodb_client()
        self._table = table_name or get_settings().table_name

    # ----- batches and cells -------------------------------------------------------------

    def create_batch(self, batch: dict[str, Any], cells: list[dict[str, Any]]) -> None:
        """Writes the batch, its owner index row and every cell (batched, in parallel)."""
        batch_id, owner = batch["batchId"], batch["owner"]
        meta = {"PK": batch_pk(batch_id), "SK": "META", **batch}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(meta),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise StateConflict(f"batch {batch_id} exists", field="batchId") from error
            raise
        owner_row = {"PK": f"OWNER#{owner}", "SK": f"BATCH#{batch['createdAt']}#{batch_id}", "batchId": batch_id}
        rows = [owner_row] + [
            {"PK": batch_pk(batch_id), "SK": cell_sk(c["angleKey"], c.get("colorKey")), **c} for c in cells
        ]
        self._batch_put(rows)

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
            answer = self._client.batch_write_item(RequestItems={self._table: requests})
            requests = answer.get("UnprocessedItems", {}).get(self._table, [])
            if requests:
                time.sleep(delay)
                delay = min(delay * 2, 1.0)

    def get_batch(self, batch_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._table, Key={"PK": {"S": batch_pk(batch_id)}, "SK": {"S": "META"}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    def get_owned_batch(self, batch_id: str, owner: str) -> dict[str, Any]:
        """The batch if it belongs to owner; anyone else gets the same NotFound as a missing id."""
        batch = self.get_batch(batch_id)
        if batch is None or batch.get("owner") != owner:
            raise NotFound(f"batch {batch_id} not found", field="batchId")
        return batch

    def list_cells(self, batch_id: str) -> list[dict[str, Any]]:
        return [
            from_item(item)
            for item in self._query(
                KeyConditionExpression="PK = :pk AND begins_with(SK, :cell)",
                ExpressionAttributeValues=_values(pk=batch_pk(batch_id), cell="CELL#"),
                ConsistentRead=True,
            )
        ]

    def get_cell(self, batch_id: str, angle_key: str, color_key: str | None) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._table, Key=cell_key(batch_id, angle_key, color_key), ConsistentRead=True
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    def add_color_cells(self, batch_id: str, cells: list[dict[str, Any]], colors: list[str]) -> list[dict[str, Any]]:
        """Creates colour cells that do not exist yet; returns only the ones this call created."""

        def put(cell: dict[str, Any]) -> dict[str, Any] | None:
            row = {"PK": batch_pk(batch_id), "SK": cell_sk(cell["angleKey"], cell["colorKey"]), **cell}
            try:
                self._client.put_item(
                    TableName=self._table, Item=to_item(row), ConditionExpression="attribute_not_exists(PK)"
                )
                return cell
            except ClientError as error:
                if _is_condition_failure(error):
                    return None
                raise

        with ThreadPoolExecutor(max_workers=_WRITE_THREADS) as pool:
            created = [c for c in pool.map(put, cells) if c is not None]
        if created:
            self._client.update_item(
                TableName=self._table,
                Key={"PK": {"S": batch_pk(batch_id)}, "SK": {"S": "META"}},
                UpdateExpression="SET totalJobs = totalJobs + :n, #status = :running, colors = :colors, updatedAt = :now",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values(n=len(created), running="running", colors=colors, now=now_iso()),
            )
        return created

    # ----- predictions ---------------------------------------------------------------------

    def record_prediction(
        self, cell: dict[str, Any], owner: str, prediction_id: str, task_token: str, image_input: list[str]
    ) -> None:
        """Stores the prediction and task token on the cell and the pointer the webhook follows."""
        now = now_iso()
        batch_id, angle_key, color_key = cell["batchId"], cell["angleKey"], cell.get("colorKey")
        pointer = {
            "PK": f"PRED#{prediction_id}",
            "SK": "PRED",
            "batchId": batch_id,
            "angleKey": angle_key,
            "colorKey": color_key,
            "owner": owner,
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": cell_key(batch_id, angle_key, color_key),
                            "UpdateExpression": (
                                "SET predictionId = :pid, taskToken = :token, imageInput = :input, "
                                "GSI1PK = :pending, GSI1SK = :now, updatedAt = :now, "
                                "predictionCount = if_not_exists(predictionCount, :zero) + :one"
                            ),
                            "ConditionExpression": "attribute_exists(PK) AND NOT #status IN (:done, :failed)",
                            "ExpressionAttributeNames": {"#status": "status"},
                            "ExpressionAttributeValues": _values(
                                pid=prediction_id,
                                token=task_token,
                                input=image_input,
                                pending="PENDING",
                                now=now,
                                zero=0,
                                one=1,
                                done="completed",
                                failed="failed",
                            ),
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": to_item(pointer)}},
                ]
            )
        except ClientError as error:
            if _is_condition_failure(error):
                raise StateConflict("cell is already terminal", field="cell") from error
            raise

    def update_task_token(self, cell: dict[str, Any], task_token: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=cell_key(cell["batchId"], cell["angleKey"], cell.get("colorKey")),
            UpdateExpression="SET taskToken = :token, updatedAt = :now",
            ExpressionAttributeValues=_values(token=task_token, now=now_iso()),
        )

    def get_prediction_pointer(self, prediction_id: str) -> dict[str, Any] | None:
        answer = self._client.get_item(
            TableName=self._table, Key={"PK": {"S": f"PRED#{prediction_id}"}, "SK": {"S": "PRED"}}, ConsistentRead=True
        )
        item = answer.get("Item")
        return from_item(item) if item else None

    # ----- cell transitions ----------------------------------------------------------------

    def mark_processing(self, batch_id: str, angle_key: str, color_key: str | None) -> dict[str, Any] | None:
        """queued -> processing. None when the cell is already further on."""
        now = now_iso()
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key=cell_key(batch_id, angle_key, color_key),
                UpdateExpression="SET #status = :processing, startedAt = :now, updatedAt = :now, GSI1SK = :now",
                ConditionExpression="#status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values(processing="processing", queued="queued", now=now),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return from_item(answer["Attributes"])

    def complete_cell(
        self,
        cell: dict[str, Any],
        owner: str,
        image_key: str,
        thumb_key: str,
    ) -> dict[str, Any] | None:
        """One transaction: cell completed + gallery asset (exactly once) + batch counter.

        Returns the completed cell, or None when the cell was already terminal (nothing written).
        """
        now = now_iso()
        batch_id, angle_key, color_key = cell["batchId"], cell["angleKey"], cell.get("colorKey")
        asset_id = f"{batch_id}.{angle_key}.{color_key or 'angle'}"
        asset = {
            "PK": f"OWNER#{owner}",
            "SK": f"ASSET#{now}#{asset_id}",
            "assetId": asset_id,
            "batchId": batch_id,
            "angleKey": angle_key,
            "colorKey": color_key,
            "imageKey": image_key,
            "thumbKey": thumb_key,
            "createdAt": now,
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": cell_key(batch_id, angle_key, color_key),
                            "UpdateExpression": (
                                "SET #status = :completed, imageKey = :image, thumbKey = :thumb, "
                                "completedAt = :now, updatedAt = :now REMOVE GSI1PK, GSI1SK, #error"
                            ),
                            "ConditionExpression": "attribute_exists(PK) AND NOT #status IN (:completed, :failed)",
                            "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
                            "ExpressionAttributeValues": _values(
                                completed="completed",
                                failed="failed",
                                image=image_key,
                                thumb=thumb_key,
                                now=now,
                            ),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table,
                            "Item": to_item({"PK": f"ASSET#{asset_id}", "SK": "ASSET", "assetSk": asset["SK"]}),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self._table, "Item": to_item(asset)}},
                    self._count_update(batch_id, "completedJobs", now),
                ]
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return {
            **cell,
            "status": "completed",
            "imageKey": image_key,
            "thumbKey": thumb_key,
            "completedAt": now,
            "error": None,
        }

    def fail_cell(self, batch_id: str, angle_key: str, color_key: str | None, error: str) -> dict[str, Any] | None:
        """Marks a cell failed with its reason. None when it was already terminal."""
        now = now_iso()
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": cell_key(batch_id, angle_key, color_key),
                            "UpdateExpression": (
                                "SET #status = :failed, #error = :error, completedAt = :now, updatedAt = :now "
                                "REMOVE GSI1PK, GSI1SK"
                            ),
                            "ConditionExpression": "attribute_exists(PK) AND NOT #status IN (:completed, :failed)",
                            "ExpressionAttributeNames": {"#status": "status", "#error": "error"},
                            "ExpressionAttributeValues": _values(
                                completed="completed", failed="failed", error=error[:1000], now=now
                            ),
                        }
                    },
                    self._count_update(batch_id, "failedJobs", now),
                ]
            )
        except ClientError as client_error:
            if _is_condition_failure(client_error):
                return None
            raise
        return self.get_cell(batch_id, angle_key, color_key)

    def mark_task_notified(self, cell: dict[str, Any], task_token: str) -> None:
        """The workflow has this terminal cell's outcome: drop the token (a newer one stays).

        complete_cell/fail_cell keep the token so that a retried delivery can still resume the
        workflow when the process died between the cell write and SendTaskSuccess/Failure.
        """
        try:
            self._client.update_item(
                TableName=self._table,
                Key=cell_key(cell["batchId"], cell["angleKey"], cell.get("colorKey")),
                UpdateExpression="SET taskNotifiedAt = :now REMOVE taskToken",
                ConditionExpression="taskToken = :token",
                ExpressionAttributeValues=_values(now=now_iso(), token=task_token),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    def _count_update(self, batch_id: str, counter: str, now: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self._table,
                "Key": {"PK": {"S": batch_pk(batch_id)}, "SK": {"S": "META"}},
                "UpdateExpression": f"SET {counter} = {counter} + :one, updatedAt = :now",
                "ExpressionAttributeValues": _values(one=1, now=now),
            }
        }

    def complete_batch_if_done(self, batch_id: str) -> dict[str, Any] | None:
        """running -> completed when every cell is terminal. Returns the batch only for the caller
        that made the transition, so the completion is announced once."""
        batch = self.get_batch(batch_id)
        if batch is None or batch.get("status") != "running":
            return None
        done = batch.get("completedJobs", 0) + batch.get("failedJobs", 0)
        if done < batch.get("totalJobs", 0):
            return None
        try:
            answer = self._client.update_item(
                TableName=self._table,
                Key={"PK": {"S": batch_pk(batch_id)}, "SK": {"S": "META"}},
                UpdateExpression="SET #status = :completed, completedAt = :now, updatedAt = :now",
                ConditionExpression="#status = :running AND totalJobs = :total",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values(
                    completed="completed", running="running", total=batch["totalJobs"], now=now_iso()
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return None
            raise
        return from_item(answer["Attributes"])

    def list_pending_cells(self, updated_before: str, limit: int = 200) -> list[dict[str, Any]]:
        """Cells with a prediction in flight whose last change is older than updated_before."""
        items = self._query(
            IndexName="GSI1",
            KeyConditionExpression="GSI1PK = :pending AND GSI1SK < :before",
            ExpressionAttributeValues=_values(pending="PENDING", before=updated_before),
            max_items=limit,
        )
        return [from_item(item) for item in items]

    def touch_pending(self, cell: dict[str, Any]) -> None:
        now = now_iso()
        try:
            self._client.update_item(
                TableName=self._table,
                Key=cell_key(cell["batchId"], cell["angleKey"], cell.get("colorKey")),
                UpdateExpression="SET GSI1SK = :now",
                ConditionExpression="GSI1PK = :pending",
                ExpressionAttributeValues=_values(now=now, pending="PENDING"),
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise

    # ----- webhook receipts ----------------------------------------------------------------

    def has_webhook_receipt(self, webhook_id: str) -> bool:
        answer = self._client.get_item(
            TableName=self._table, Key={"PK": {"S": f"WEBHOOK#{webhook_id}"}, "SK": {"S": "WEBHOOK"}}
        )
        return "Item" in answer

    def put_webhook_receipt(self, webhook_id: str, prediction_id: str) -> None:
        row = {
            "PK": f"WEBHOOK#{webhook_id}",
            "SK": "WEBHOOK",
            "predictionId": prediction_id,
            "ttl": int(time.time()) + WEBHOOK_RECEIPT_TTL_SECONDS,
        }
        self._client.put_item(TableName=self._table, Item=to_item(row))

    # ----- connections ---------------------------------------------------------------------

    def put_connection(self, connection_id: str, owner: str) -> None:
        ttl = int(time.time()) + CONNECTION_TTL_SECONDS
        by_connection = {"PK": f"CONN#{connection_id}", "SK": "CONN", "owner": owner, "ttl": ttl}
        by_owner = {"PK": f"OWNER#{owner}", "SK": f"CONN#{connection_id}", "connectionId": connection_id, "ttl": ttl}
        self._client.transact_write_items(
            TransactItems=[{"Put": {"TableName": self._table, "Item": to_item(row)}} for row in (by_connection, by_owner)]
        )

    def get_connection_owner(self, connection_id: str) -> str | None:
        answer = self._client.get_item(
            TableName=self._table, Key={"PK": {"S": f"CONN#{connection_id}"}, "SK": {"S": "CONN"}}, ConsistentRead=True
        )
        item = answer.get("Item")
        if not item:
            return None
        row = from_item(item)
        # TTL deletion lags by up to days: an expired row is treated as gone.
        if row.get("ttl", 0) < time.time():
            return None
        return str(row["owner"])

    def delete_connection(self, connection_id: str, owner: str | None = None) -> None:
        owner = owner or self.get_connection_owner(connection_id)
        keys = [(f"CONN#{connection_id}", "CONN")] + ([(f"OWNER#{owner}", f"CONN#{connection_id}")] if owner else [])
        self._client.transact_write_items(
            TransactItems=[{"Delete": {"TableName": self._table, "Key": {"PK": {"S": pk}, "SK": {"S": sk}}}} for pk, sk in keys]
        )

    def list_owner_connections(self, owner: str) -> list[str]:
        now = time.time()
        return [
            row["connectionId"]
            for row in map(
                from_item,
                self._query(
                    KeyConditionExpression="PK = :pk AND begins_with(SK, :conn)",
                    ExpressionAttributeValues=_values(pk=f"OWNER#{owner}", conn="CONN#"),
                ),
            )
            if row.get("ttl", 0) >= now
        ]

    # ----- gallery -------------------------------------------------------------------------

    def list_gallery(self, owner: str, limit: int, next_token: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first. The token is the opaque last evaluated key (validated on the way in)."""
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :asset)",
            "ExpressionAttributeValues": _values(pk=f"OWNER#{owner}", asset="ASSET#"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            kwargs["ExclusiveStartKey"] = _decode_token(next_token, owner)
        answer = self._client.query(**kwargs)
        items = [from_item(i) for i in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return items, (_encode_token(last) if last else None)

    # ----- helpers -------------------------------------------------------------------------

    def _query(self, max_items: int | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self._table
        count = 0
        while True:
            answer = self._client.query(**kwargs)
            for item in answer.get("Items", []):
                yield item
                count += 1
                if max_items is not None and count >= max_items:
                    return
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last


def _encode_token(key: dict[str, Any]) -> str:
    plain = {k: v["S"] for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_token(token: str, owner: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(plain, dict) or set(plain) != {"PK", "SK"}:
            raise ValueError("shape")
        if plain["PK"] != f"OWNER#{owner}" or not str(plain["SK"]).startswith("ASSET#"):
            raise ValueError("foreign token")
        return {"PK": {"S": plain["PK"]}, "SK": {"S": str(plain["SK"])}}
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationFailed("nextToken is not a token this API issued", field="nextToken") from error


_repository: Repository | None = None


def get_repository() -> Repository:
    global _repository
    if _repository is None:
        _repository = Repository()
    return _repository


def reset_repository() -> None:
    global _repository
    _repository = None
