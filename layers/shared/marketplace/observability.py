"""Logger, metrics and tracer shared by every function (configured by POWERTOOLS_* variables).

Defaults apply when the variables are absent at import time (tests, the local stack importing
the package before it sets a function's environment): metrics without a namespace would make
``log_metrics`` raise at the end of an otherwise successful invocation.

Log keys such as batch_id are bound with `bind_batch`/`bind`, which use the logger's thread-safe
keys: the local stack runs many invocations at once in threads of one process, so keys must not
leak from one invocation's lines into another's. `per_invocation` clears them around a handler.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "car-marketplace"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "CarMarketplace"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def bind_batch(batch_id: str) -> None:
    logger.thread_safe_append_keys(batch_id=batch_id)


def bind(**keys: object) -> None:
    logger.thread_safe_append_keys(**keys)


def lambda_entry(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Every handler's one entry: Lambda context and correlation id on every log line, a trace
    segment, metrics flushed, and log keys cleared per invocation."""

    def decorate(handler: Handler) -> Handler:
        wrapped: Callable[..., Any] = per_invocation(handler)
        wrapped = metrics.log_metrics(wrapped)
        wrapped = tracer.capture_lambda_handler(wrapped)
        return cast(Handler, logger.inject_lambda_context(wrapped, correlation_id_path=correlation_id_path, clear_state=True))

    return decorate


def per_invocation(handler: Handler) -> Handler:
    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        logger.thread_safe_clear_keys()
        try:
            return handler(*args, **kwargs)
        finally:
            logger.thread_safe_clear_keys()

    return wrapper  # type: ignore[return-value]
