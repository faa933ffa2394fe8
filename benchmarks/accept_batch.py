"""Issue 2 benchmark: time to accept a 30 x 40 batch on moto, and each handler's import time.

Prints figures (never asserts): goal < 2 s to accept 1,230 cells, < 300 ms per handler import.
Run: .venv/bin/python benchmarks/accept_batch.py
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]


def import_times() -> dict[str, float]:
    """Cold import of each handler module in a fresh interpreter (python -X importtime)."""
    results = {}
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'shared'}:{ROOT}"}
    for folder in sorted((ROOT / "functions").iterdir()):
        if not (folder / "app.py").exists():
            continue
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import functions.{folder.name}.app"],
            capture_output=True, text=True, env=env, cwd=ROOT, check=False,
        )
        total = 0
        for line in proc.stderr.splitlines():
            match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
            if match and match.group(2).strip() == f"functions.{folder.name}.app":
                total = int(match.group(1))
        results[folder.name] = total / 1000
    return results


def accept_time(runs: int = 5) -> list[float]:
    import boto3
    from moto import mock_aws

    from tests.support.aws_resources import (
        create_bucket_from_template,
        create_state_machine_from_template,
        create_table_from_template,
        state_machine_arn,
    )
    from tests.support.csv_server import serve_folder
    from tests.support.fakes import FakeWebSocketManagement
    from tests.support.lambda_events import FakeContext, http_event, load_function
    from tests.support.presets_factory import write_large_presets
    from tests.support.resets import reset_marketplace_caches

    folder = Path(tempfile.mkdtemp())
    for name in ("global_prompts.csv",):
        (folder / name).write_text((ROOT / "samples" / "presets" / name).read_text())
    write_large_presets(folder, angles=30, colors=40)
    timings = []
    with serve_folder(folder) as url:
        os.environ.update({
            "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
            "TABLE_NAME": "bench", "BUCKET_NAME": "bench-assets", "DEV_MODE": "true",
            "STATE_MACHINE_ARN": state_machine_arn(),
            "GLOBAL_PROMPTS_CSV_URL": f"{url}/global_prompts.csv", "ANGLE_PRESETS_CSV_URL": f"{url}/angle_presets.csv",
            "COLOR_PRESETS_CSV_URL": f"{url}/color_presets.csv", "TICKET_SECRET": "x",
            "SOURCE_URL_ALLOWED_HOSTS": "images.example.com", "POWERTOOLS_LOG_LEVEL": "WARNING",
            "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_TRACE_DISABLED": "true",
        })
        os.environ.pop("AWS_ENDPOINT_URL", None)
        with mock_aws():
            create_table_from_template(boto3.client("dynamodb"), "bench")
            create_bucket_from_template(boto3.client("s3"), "bench-assets")
            create_state_machine_from_template(boto3.client("stepfunctions"))
            reset_marketplace_caches()
            import marketplace.source_urls as source_urls
            from marketplace import notifier

            source_urls._resolve = lambda host: ["93.184.216.34"]  # type: ignore[assignment]
            notifier._notifier = notifier.Notifier(client=FakeWebSocketManagement())
            api = load_function("api")
            body = {"sourceImageUrls": ["https://images.example.com/a.jpg", "https://images.example.com/b.jpg"],
                    "angles": [f"angle_{i:02d}" for i in range(30)], "colors": [f"color_{i:02d}" for i in range(40)]}
            api.lambda_handler(http_event("GET", "/api/car/marketplace/presets"), FakeContext())  # warm presets
            for _ in range(runs):
                started = time.perf_counter()
                answer = api.lambda_handler(http_event("POST", "/api/car/marketplace/batch", body), FakeContext())
                timings.append(time.perf_counter() - started)
                assert answer["statusCode"] == 202, answer["body"][:300]
    return timings


def main() -> None:
    timings = accept_time()
    p50 = statistics.median(timings)
    print(f"accept 30x40 batch (1,230 cells) on moto: p50 {p50 * 1000:.0f} ms, "
          f"min {min(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms over {len(timings)} runs; "
          f"goal 2000 ms -> {p50 / 2:.2f} x goal")
    for name, ms in import_times().items():
        print(f"import functions/{name}/app.py: {ms:.0f} ms (goal 300 ms -> {ms / 300:.2f} x goal)")


if __name__ == "__main__":
    main()
