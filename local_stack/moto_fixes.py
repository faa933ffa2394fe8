"""Work-arounds for moto behaviour that only shows under concurrency (applied by LocalStack).

moto's DynamoDB ``transact_write_items`` deep-copies every table it touches and, when the
transaction is cancelled (a condition failed, or any error), puts that copy back: every write
another thread made meanwhile is lost (e.g. a batch counter increment of a concurrent webhook).
AWS has no such behaviour. Serialising moto's DynamoDB requests removes the race (and costs
little: moto handles one request in a few milliseconds).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.RLock()


@contextmanager
def serialized_moto_dynamodb() -> Iterator[None]:
    """While active, moto's DynamoDB handler (in-process or server mode) runs one request at a time."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "_serialized", False):
        yield
        return

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


class _TablesPassThrough:
    """Stands in for the `copy` module inside moto's transact_write_items: its whole-table backup
    (a deep copy of every touched table, per transaction: O(table) time and memory each, so
    O(n^2) over a batch and gigabytes at a thousand cells) becomes a no-op; `_item_undo_log`
    takes its place with copies of only the items the transaction touches."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_undo_log(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op["Item"] if op_type == "Put" else op.get("Key", {})
        if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
            continue  # moto reports the malformed request itself
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    return saved


def _undo(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_value, range_value, item in reversed(saved):
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item


@contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    """moto's transactions roll back item by item instead of restoring whole-table copies.

    Relies on `serialized_moto_dynamodb` (one DynamoDB request at a time), so swapping the
    module's `copy` reference for the duration of one transaction is safe.
    """
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_item_level", False):
        yield
        return

    def transact_write_items(self: Any, transact_items: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            saved = _item_undo_log(self, transact_items)
            models.copy = _TablesPassThrough()  # type: ignore[assignment]
            try:
                return original(self, transact_items, *args, **kwargs)
            except Exception:
                _undo(saved)
                raise
            finally:
                models.copy = copy

    transact_write_items._item_level = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


@contextmanager
def hash_key_scoped_queries() -> Iterator[None]:
    """moto answers every base-table Query by sorting and filtering the WHOLE table; DynamoDB
    reads one partition. With a thousand-cell batch every push (a query of the owner's
    connections) became O(table): this narrows base-table queries to the partition's items.
    Index queries are left as they are (sparse GSIs are small)."""
    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    if getattr(original_query, "_scoped", False):
        yield
        return
    scope = threading.local()

    def all_items(self: Any) -> Any:
        hash_key = getattr(scope, "hash_key", None)
        if hash_key is None or getattr(scope, "table", None) is not self:
            return original_all_items(self)
        partition = self.items.get(hash_key)  # .get: self.items is a defaultdict
        if partition is None:
            return []
        items = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        scope.hash_key, scope.table = hash_key, self
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            scope.hash_key = scope.table = None

    query._scoped = True  # type: ignore[attr-defined]
    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all_items  # type: ignore[method-assign]
