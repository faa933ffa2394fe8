"""`STANDIN_REMOTE=1 make demo`: the laptop mode end to end, offline. The stand-in plays the
remote Replicate (it refuses the laptop's addresses and sends no webhook), so the six cells can
only complete if every input went through the Files API and every completion was polled; and
the token this stack runs with is in no log, error, page, API answer or file of out/."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketplace_cli.demo import StackProcess, run_demo, sample_photos
from tests.support.secrets_scan import leaks
from tests.support.stack_state import MotoState, known_secrets

pytestmark = pytest.mark.e2e
LATENCY_S = 0.5
# From the prediction's end at Replicate to its cell completed here (poll every 0.5 s, then the
# output downloaded, stored and the cell's transaction): "within about 2 s".
MAX_LAG_S = 2.5


class RemoteStandinStack(StackProcess):
    """The demo's stack with the stand-in as the remote Replicate; before it stops, what the
    stand-in saw and what the page and the API answer are kept for the assertions."""

    seen: dict[str, Any]

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.process is not None and self.alive and not getattr(self, "seen", None):
            self.seen = self._look()
        return super().stop(timeout)

    def cleanup(self) -> None:  # the log is read after the demo
        pass

    def _look(self) -> dict[str, Any]:
        standin, base = str(self.urls["standin_url"]), str(self.urls["base_url"])
        auth = {"Authorization": f"Bearer {self.env['LOCAL_REPLICATE_API_TOKEN']}"}
        with httpx.Client(timeout=10) as http:
            batches = http.get(f"{base}/api/car/marketplace/batches").json()["items"]
            return {
                "files": http.get(f"{standin}/_standin/files", headers=auth).json(),
                "faults": http.get(f"{standin}/_standin/faults", headers=auth).json(),
                "predictions": http.get(f"{standin}/v1/predictions", headers=auth).json()["results"],
                "page": http.get(f"{base}/").text,
                "snapshots": [http.get(f"{base}/api/car/marketplace/batch/{b['batchId']}").text for b in batches],
                "replicate": self.urls.get("replicate"),
                "cells": [c for b in batches for c in MotoState(str(self.urls["moto_url"])).cells(b["batchId"])],
            }


@pytest.mark.timeout(240)
def test_given_standin_remote_when_the_demo_runs_then_six_cells_complete_through_files_and_polling_and_no_secret_leaks(
    tmp_path: Path,
) -> None:
    secrets = known_secrets()
    env = {**secrets, "STANDIN_REMOTE": "1", "STANDIN_LATENCY_SECONDS": str(LATENCY_S),
           "POWERTOOLS_LOG_LEVEL": "DEBUG"}
    stack = RemoteStandinStack(env=env)
    out, stdout, stderr = tmp_path / "out", io.StringIO(), io.StringIO()

    code = run_demo(out, timeout=180, stdout=stdout, stderr=stderr, stack_factory=lambda: stack)

    log = stack.log_path.read_text(errors="replace")
    report = f"exit {code}\n--- stdout\n{stdout.getvalue()}\n--- stderr\n{stderr.getvalue()}\n--- log\n{log[-3000:]}"
    assert code == 0, report
    seen = stack.seen
    shown = stdout.getvalue()
    assert shown.index("Estimate: 6 images, $0.23 at $0.039 per image") < shown.index("Uploading"), shown
    assert seen["replicate"] == "standin-remote"
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["cells"]) == 6 and all(c["status"] == "completed" for c in manifest["cells"]), report

    # Every input named a file of the Files API (the laptop's S3 is refused in this mode, and
    # none was refused): each photo once for both angles, each angle's PNG once for its colours.
    photos = len(sample_photos())
    standin = str(stack.urls["standin_url"])
    predictions = seen["predictions"]
    assert len(predictions) == 6
    for prediction in predictions:
        assert prediction["status"] == "succeeded", prediction["error"]
        assert all(url.startswith(f"{standin}/v1/files/") for url in prediction["input"]["image_input"]), prediction
        assert prediction["webhook"] is None
    files = seen["files"]
    assert files["remote"] is True and files["refused_inputs"] == 0
    assert files["created"] == photos + 2 and files["fetched_as_input"] == 2 * photos + 4 * 1, files
    # No webhook was delivered, or even attempted: completion was learnt by polling.
    assert seen["faults"]["deliveries"]["attempts"] == 0 and files["webhooks_not_sent"] == 0
    assert "POST /webhooks/replicate" not in log
    ended = {p["id"]: datetime.fromisoformat(p["completed_at"].replace("Z", "+00:00")) for p in predictions}
    lags = [(datetime.fromisoformat(c["completedAt"].replace("Z", "+00:00")) - ended[c["predictionId"]]).total_seconds()
            for c in seen["cells"]]
    print(f"poll-to-completion lag: max {max(lags):.2f}s, mean {sum(lags) / len(lags):.2f}s over {len(lags)} cells")
    assert len(lags) == 6 and max(lags) <= MAX_LAG_S, lags

    # The token is nowhere: logs (DEBUG), the demo's output and errors, the page, the API, out/.
    assert "[MP] enqueue" in log, "DEBUG handler logs were on: the log is worth searching"
    places: dict[str, str | bytes] = {
        "stack log": log, "demo stdout": stdout.getvalue(), "demo stderr": stderr.getvalue(),
        "page": seen["page"], **{f"snapshot {i}": text for i, text in enumerate(seen["snapshots"])},
        **{f"out/{p.name}": p.read_bytes() for p in out.iterdir()},
    }
    assert leaks(secrets, places) == []
