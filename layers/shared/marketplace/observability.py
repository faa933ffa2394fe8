"""Logger, metrics and tracer shared by every function (configured by POWERTOOLS_* variables).

Defaults apply when the variables are absent at import time (tests, the local stack importing
the package before it sets a function's environment): metrics without a namespace would make
``log_metrics`` raise at the end of an otherwise successful invocation.

Log keys such as batch_id are bound with `bind_batch`/`bind`, which use the logger's thread-safe
keys: the local stack runs many invocations at once in threads of one process, so keys must not
leak from one invocation's lines into another's. `per_invocation` clears them around a handler.

The Tracer is built on a handler's first invocation, not at import (`get_tracer`): a Tracer at
import loads the X-Ray SDK and, with its default ``patch_all``, imports every library X-Ray can
patch (botocore, requests, httpx...) whether the function uses it or not, and outside Lambda the
SDK's sampler builds a botocore client. Built on first use, an enabled Tracer patches each of
`TRACED_MODULES` when that module is imported (or at once if it already is), so every boto3,
requests and httpx call is still traced without the Tracer importing any of them; a disabled
one (outside Lambda, ``POWERTOOLS_TRACE_DISABLED``) is never built at all.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.lambda_context import build_lambda_context_model

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "car-marketplace"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "CarMarketplace"

# X-Ray's name for a patch → the top-level package whose import triggers it (a hook on a
# submodule would run before the submodule is bound to its package, which X-Ray's patches read).
# The libraries the functions call out with: boto3 (botocore), the output downloads (requests),
# Replicate (httpx), urllib and the rest of http.client (httplib). X-Ray's other patches
# (sqlite3, database drivers) are for libraries the functions do not use.
TRACED_MODULES = {"botocore": "botocore", "requests": "requests", "httpx": "httpx", "httplib": "http"}

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

Handler = TypeVar("Handler", bound=Callable[..., Any])

_tracer: Tracer | None = None
_tracer_built = False
_tracer_lock = threading.Lock()


def get_tracer() -> Tracer | None:
    """The process's Tracer, built on first call; None where Powertools would disable tracing
    (no ``LAMBDA_TASK_ROOT``, SAM local, ``POWERTOOLS_TRACE_DISABLED``), so nothing of X-Ray is
    loaded there."""
    global _tracer, _tracer_built
    if _tracer_built:
        return _tracer
    with _tracer_lock:
        if not _tracer_built:
            if not Tracer._is_tracer_disabled():
                _tracer = Tracer(service=SERVICE, auto_patch=False)
                _patch_on_import(_tracer)
            _tracer_built = True
    return _tracer


def _patch_on_import(tracer: Tracer) -> None:
    from wrapt import register_post_import_hook  # X-Ray's own dependency

    def patcher(xray_name: str) -> Callable[[object], None]:
        return lambda _module: tracer.patch([xray_name])

    for xray_name, module in TRACED_MODULES.items():
        register_post_import_hook(patcher(xray_name), module)


def reset_tracer() -> None:
    """Forget the Tracer (tests): the next invocation builds one from the environment again."""
    global _tracer, _tracer_built
    with _tracer_lock:
        _tracer, _tracer_built = None, False


def bind_batch(batch_id: str) -> None:
    logger.thread_safe_append_keys(batch_id=batch_id)


def bind(**keys: object) -> None:
    logger.thread_safe_append_keys(**keys)


def lambda_entry(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Every handler's one entry: Lambda context and correlation id on every log line, a trace
    segment (the Tracer's, from the first invocation on: `get_tracer`), metrics flushed, and log
    keys cleared per invocation."""

    def decorate(handler: Handler) -> Handler:
        inner: Callable[..., Any] = metrics.log_metrics(per_invocation(handler))

        @functools.wraps(handler)
        def entry(event: Any, context: Any, **kwargs: Any) -> Any:
            tracer = get_tracer()
            run = inner if tracer is None else tracer.capture_lambda_handler(inner)
            return run(event, context, **kwargs)

        return cast(Handler, logger.inject_lambda_context(entry, correlation_id_path=correlation_id_path, clear_state=True))

    return decorate


def per_invocation(handler: Handler) -> Handler:
    """Per-invocation log keys are the thread's: the invocation's Lambda context (the keys
    Powertools builds for it) as well as what it binds. Powertools keeps the context keys on the
    shared logger, which one invocation at a time (a Lambda container) makes right; where
    invocations share a process (the local stack) a line carried another invocation's function
    and request id."""

    @functools.wraps(handler)
    def wrapper(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
        logger.thread_safe_clear_keys()
        logger.thread_safe_append_keys(**build_lambda_context_model(context).__dict__)
        try:
            return handler(event, context, *args, **kwargs)
        finally:
            logger.thread_safe_clear_keys()

    return wrapper  # type: ignore[return-value]
