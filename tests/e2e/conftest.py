from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.stack_process import running_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, Any]]:
    """One local stack for the e2e session (short stand-in latency)."""
    with running_stack({"STANDIN_LATENCY_SECONDS": "0.3", "LOCAL_SCHEDULE_SECONDS": "2"}) as urls:
        yield urls


@pytest.fixture(scope="session")
def stack_url(stack: dict[str, Any]) -> str:
    return str(stack["base_url"])
