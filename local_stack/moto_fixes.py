"""Work-arounds for moto behaviour that only shows under concurrency (applied by LocalStack).

moto's DynamoDB ``transact_write_items`` deep-copies every table it touches and, when the
transaction is cancelled (a condition failed, or any error), puts that copy back: every write
another thread made meanwhile is lost (e.g. a batch counter increment of a concurrent webhook).
AWS has no such behaviour. Serialising moto's DynamoDB requests removes the race (and costs
little: moto handles one request in a few milliseconds).
"""

from __future__ import annotations

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
