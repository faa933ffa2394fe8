"""Replicate's create limit against the real product: the real ASL in moto, the real handlers,
the stand-in enforcing a (small) create limit over HTTP. No cell is ever lost to a 429."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.inprocess_stack import stack_in_process

pytestmark = pytest.mark.integration

ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic", "black_gloss"]


def _run_batch(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    with stack_in_process({"STANDIN_LATENCY_SECONDS": "0.2", "POWERTOOLS_LOG_LEVEL": "WARNING", **env}) as stack:
        client = E2EClient(stack.base_url, user="limited")
        try:
            sources = client.upload([jpeg_bytes(1), jpeg_bytes(2)])
            batch_id = client.create_batch(sources, ANGLES, COLORS)["batchId"]
            snapshot = client.wait_completed(batch_id, timeout=120)
        finally:
            client.close()
        report = httpx.get(f"{stack.standin_url}/_standin/faults", timeout=5,
                           headers={"Authorization": f"Bearer {stack.secrets.replicate_api_token}"})
        limits = report.json()["rate_limits"]["create"]
    return snapshot, limits


def test_given_a_create_limit_far_below_the_batch_and_no_pacing_when_it_runs_then_every_429_is_waited_out() -> None:
    # 8 creates against 60 a minute with a burst of 2: most creates are answered 429 at first.
    snapshot, limits = _run_batch({"STANDIN_CREATE_LIMIT_PER_MINUTE": "60", "STANDIN_CREATE_BURST": "2",
                                   "REPLICATE_CREATES_PER_MINUTE": "0"})

    assert limits["throttled"] > 0, limits
    assert snapshot["completedJobs"] == 8 and snapshot["failedJobs"] == 0
    assert {c["status"] for c in snapshot["cells"]} == {"completed"}
    assert limits["created"] == 8  # a 429 never turned into a second prediction for a cell


def test_given_pacing_at_the_limit_when_a_batch_runs_then_creates_keep_to_it_and_replicate_never_says_429() -> None:
    snapshot, limits = _run_batch({"STANDIN_CREATE_LIMIT_PER_MINUTE": "60", "STANDIN_CREATE_BURST": "2",
                                   "REPLICATE_CREATES_PER_MINUTE": "60", "REPLICATE_CREATE_BURST": "1"})

    assert snapshot["completedJobs"] == 8 and snapshot["failedJobs"] == 0
    assert limits["created"] == 8 and limits["throttled"] == 0, limits
