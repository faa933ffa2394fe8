"""A run's data stays under Step Functions' 256 KiB for the largest batch the API allows."""

from __future__ import annotations

import pytest

from local_stack.aws_limits import STEP_FUNCTIONS_PAYLOAD_MAX_BYTES
from tests.support import run_size

pytestmark = pytest.mark.unit


def test_given_the_largest_batch_the_api_allows_when_its_run_starts_then_every_payload_is_under_256_kib() -> None:
    sizes = run_size.largest_allowed()
    assert max(sizes.values()) < STEP_FUNCTIONS_PAYLOAD_MAX_BYTES, sizes

