"""Integration fixtures shared by modules that drive one in-process local stack each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.inprocess_stack import stack_in_process


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    """The module's local stack: the stand-in at 0.2 s, the reconcile schedule out of the way (a
    module that drives the schedule or needs other settings defines its own ``stack``)."""
    env = {"STANDIN_LATENCY_SECONDS": "0.2", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with stack_in_process(env, schedule_seconds=3600) as local:
        yield local
