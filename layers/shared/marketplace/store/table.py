"""The table adapter every store shares: (de)serialising items, paging, and the one mapping of a
failed condition (a duplicate, late or out-of-order write) to "nothing changed"."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ..aws import dynamodb_client
from ..config import get_settings

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


@cache
def _serializer() -> TypeSerializer:
    """boto3 is imported with the first item, not at a handler's import (cold start)."""
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    return {k: _serializer().serialize(v) for k, v in data.items() if v is not None}


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer().deserialize(v)) for k, v in item.items()}


def values(**named: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments (enums are their strings)."""
    return {f":{k}": _serializer().serialize(str(v) if hasattr(v, "value") else v) for k, v in named.items()}


def is_condition_failure(error: ClientError) -> bool:
    code = error.response["Error"]["Code"]
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = error.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons) or not reasons
    return False


class ConditionOutcome:
    """Set by ``conditional``: whether the guarded write's condition held."""

    held = True


@contextmanager
def conditional() -> Iterator[ConditionOutcome]:
    """Runs a conditional write; a failed condition is an outcome (``held = False``), any other
    DynamoDB error propagates."""
    outcome = ConditionOutcome()
    try:
        yield outcome
    except ClientError as error:
        if not is_condition_failure(error):
            raise
        outcome.held = False


def _key_of(item: dict[str, Any]) -> str:
    return f"{item['PK']['S']}\n{item['SK']['S']}"


class Table:
    """One table and its client (injectable for tests)."""

    def __init__(self, client: Any = None, table_name: str | None = None) -> None:
        self._client = client or dynamodb_client()
        self._table = table_name or get_settings().table_name

    @property
    def client(self) -> Any:
        return self._client

    @property
    def name(self) -> str:
        return self._table

    def get(self, key: dict[str, Any], consistent: bool = True) -> dict[str, Any] | None:
        answer = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=consistent)
        item = answer.get("Item")
        return from_item(item) if item else None

    def get_many(self, keys: list[dict[str, Any]]) -> list[dict[str, Any] | None]:
        """Several items in one consistent BatchGetItem (retrying what DynamoDB left unprocessed),
        in the order of ``keys``; None for a missing item."""
        found: dict[str, dict[str, Any]] = {}
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        while request:
            answer = self._client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self._table, []):
                found[_key_of(item)] = item
            request = answer.get("UnprocessedKeys") or {}
        return [from_item(found[_key_of(key)]) if _key_of(key) in found else None for key in keys]

    def transact(self, items: list[dict[str, Any]]) -> bool:
        """One TransactWriteItems; False when a condition failed (nothing was written)."""
        with conditional() as outcome:
            self._client.transact_write_items(TransactItems=items)
        return outcome.held

    def query(self, max_items: int | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every matching item (plain values), following pages up to max_items."""
        kwargs["TableName"] = self._table
        count = 0
        while True:
            answer = self._client.query(**kwargs)
            for item in answer.get("Items", []):
                yield from_item(item)
                count += 1
                if max_items is not None and count >= max_items:
                    return
            last = answer.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last
