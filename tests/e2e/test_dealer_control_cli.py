"""The dealer's control through the CLI against the running local stack (`make dev`): cancel a
batch in flight, retry what the cancel stopped until the batch completes, take the results away
as a ZIP, and find the batch in the list."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.stack_process import running_stack

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
USER = "dealer-cli-control"


@pytest.fixture(scope="module")
def slow_stack() -> Iterator[dict[str, Any]]:
    """Predictions that take 4 s: the CLI's cancel finds them in flight."""
    with running_stack({"STANDIN_LATENCY_SECONDS": "4", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as urls:
        yield urls


def cli(urls: dict[str, Any], *args: str, timeout: float = 180) -> tuple[int, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "marketplace_cli", *args, "--api-url", str(urls["base_url"]), "--user", USER, "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout,
    )
    try:
        return done.returncode, json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"exit {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}") from None


def test_given_a_batch_in_flight_when_canceled_then_retried_archived_and_listed_through_the_cli(
    slow_stack: dict[str, Any], tmp_path: Path
) -> None:
    client = E2EClient(str(slow_stack["base_url"]), user=USER)
    sources = client.upload([jpeg_bytes(5), jpeg_bytes(6)])
    batch_id = client.create_batch(sources, ["front_0", "side_90"], ["red_metallic"])["batchId"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(c["status"] == "processing" for c in client.snapshot(batch_id)["cells"]):
        time.sleep(0.1)

    code, canceled = cli(slow_stack, "batch", "cancel", batch_id)
    assert code == 0 and canceled["status"] == "canceled" and canceled["canceled"] == 4
    snapshot = client.snapshot(batch_id)
    assert snapshot["status"] == "canceled" and snapshot["counts"]["canceled"] == 4

    code, watched = cli(slow_stack, "batch", "retry", batch_id, "--watch", "--timeout", "120")
    assert code == 0, watched
    assert watched["completedJobs"] == 4 and watched["failedJobs"] == 0
    final = client.snapshot(batch_id)
    assert final["status"] == "completed" and {c["attempt"] for c in final["cells"]} == {2}

    out = tmp_path / "batch.zip"
    code, archived = cli(slow_stack, "batch", "archive", batch_id, "--out", str(out), timeout=240)
    assert code == 0, archived
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert "matrix.png" in names and len([n for n in names if n.endswith(".png") and n != "matrix.png"]) == 4
    assert {c["status"] for c in manifest["cells"]} == {"completed"}

    code, listed = cli(slow_stack, "batches")
    assert code == 0
    mine = [b for b in listed["items"] if b["batchId"] == batch_id]
    assert mine and mine[0]["status"] == "completed"
    client.close()
