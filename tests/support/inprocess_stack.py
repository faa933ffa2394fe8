"""The local stack in this test process (integration tests): started, caches reset, stopped."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from tests.support.resets import reset_marketplace_caches


@contextmanager
def stack_in_process(env: Mapping[str, str], **options: Any) -> Iterator[Any]:
    """`LocalStack(quiet=True, env=env, **options)`; the marketplace package's process-wide caches
    (settings, clients, singletons) are reset after start and after stop, since the stack
    changes the environment they were built from."""
    from local_stack.stack import LocalStack

    local = LocalStack(quiet=True, env=dict(env), **options)
    local.start()
    reset_marketplace_caches()
    try:
        yield local
    finally:
        local.stop()
        reset_marketplace_caches()


@contextmanager
def dealer_on(stack: Any, user: str) -> Iterator[Any]:
    """An API client for ``user`` on ``stack``, the stand-in's faults cleared before and after."""
    from tests.support.e2e_client import E2EClient

    stack.standin.set_faults({})
    dealer = E2EClient(stack.base_url, user=user)
    try:
        yield dealer
    finally:
        dealer.close()
        stack.standin.set_faults({})
