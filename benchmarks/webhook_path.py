"""Webhook path benchmark: one 1 MP PNG from "completed" webhook receipt to the push, split into
its steps, p50 over N runs, moto in-process; plus the Lambda time per output image
(RunPrediction + the completed webhook: the only one subscribed). An angle cell: the colour
check a colour cell adds is measured by benchmarks/color_check.py.

Prints figures (never asserts). Goals: <= 150 ms p50 for the webhook excluding the download,
<= 1 s of Lambda time per output image.
Run: .venv/bin/python benchmarks/webhook_path.py [runs]
"""

from __future__ import annotations

import base64
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from tests.support.csv_server import serve_folder  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"benchmark-webhook-secret-000000").decode()
TOKEN = "r8_benchmark"
OWNER = "bench-owner"
GOAL_WEBHOOK_MS = 150.0
GOAL_LAMBDA_MS = 1000.0


def make_png() -> bytes:
    """A 1 MP (1152x896) photo-like PNG: smooth studio gradient, a car-sized shape and sensor
    noise, saved with compress_level 1 like the stand-in. About the size of a real output."""
    from PIL import Image, ImageChops, ImageDraw

    width, height = 1152, 896
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = ImageChops.multiply(image, Image.new("RGB", (width, height), (235, 235, 240)))
    ImageDraw.Draw(image).ellipse((200, 300, 950, 700), fill=(170, 25, 35))
    noise = Image.merge("RGB", [Image.effect_noise((width, height), 12).point(lambda v: v // 4) for _ in range(3)])
    image = ImageChops.add(image, noise, offset=-32)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


PNG = make_png()


@contextmanager
def png_server() -> Iterator[str]:
    """host:port serving the PNG at /out.png (the tests' folder server)."""
    folder = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    (folder / "out.png").write_bytes(PNG)
    with serve_folder(folder) as base:
        yield base.removeprefix("http://")


class Timer:
    """Accumulates wall time per category for the current run."""

    def __init__(self) -> None:
        self.current: dict[str, float] = defaultdict(float)

    def wrap(self, category: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.current[category] += (time.perf_counter() - start) * 1000

        return timed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(runs: int = 30) -> None:
    import httpx
    import replicate
    from moto import mock_aws
    from standardwebhooks import Webhook

    with png_server() as host:
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                "TABLE_NAME": "bench-table", "BUCKET_NAME": "bench-bucket",
                "WEBHOOK_URL": "https://hooks.example.test/webhooks/replicate",
                "WEBSOCKET_MANAGEMENT_URL": "https://ws.example.test/prod",
                "WEBHOOK_SECRETS": SECRET, "REPLICATE_API_TOKEN": TOKEN,
                "REPLICATE_BASE_URL": "https://api.replicate.test", "REPLICATE_OUTPUT_HOSTS": host,
                "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
                "POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        for name in ("AWS_ENDPOINT_URL", "PUBLIC_ASSET_BASE_URL"):
            os.environ.pop(name, None)

        from marketplace import aws, notifier, outputs, predictions, repository, workflow
        from marketplace.domain import Batch, Cell
        from marketplace.observability import logger
        from marketplace.statuses import CellType
        from tests.support.aws_resources import create_bucket_from_template, create_table_from_template
        from tests.support.fakes import FakeWebSocketManagement
        from tests.support.lambdas import FakeLambdaContext, load_function
        from tests.support.resets import reset_marketplace_caches

        reset_marketplace_caches()
        logger.registered_handler.setStream(io.StringIO())  # log as in Lambda, but not to the terminal

        run_prediction = load_function("run_prediction")
        webhook = load_function("replicate_webhook")
        timer = Timer()
        counter = {"n": 0}

        def fake_replicate(request: httpx.Request) -> httpx.Response:
            counter["n"] += 1
            body = json.loads(request.content)
            return httpx.Response(201, json={
                "id": f"pred-{counter['n']}", "model": "google/nano-banana", "version": "v", "status": "starting",
                "input": body["input"], "output": None, "error": None, "logs": "",
                "created_at": datetime.now(UTC).isoformat(), "urls": {"get": "x", "cancel": "x"},
            })

        client = replicate.Client(api_token=TOKEN, base_url="https://api.replicate.test",
                                  transport=httpx.MockTransport(fake_replicate))
        predictions.get_client = lambda: client  # type: ignore[assignment]

        with mock_aws():
            dynamodb, s3 = aws.dynamodb_client(), aws.s3_client()
            create_table_from_template(dynamodb, "bench-table")
            create_bucket_from_template(s3, "bench-bucket")
            repo = repository.get_repository()
            ws = FakeWebSocketManagement()
            notifier._notifier = notifier.Notifier(repository=repo, client=ws)
            repo.put_connection("conn-1", OWNER)
            repo.put_connection("conn-2", OWNER)
            sfn = aws.sfn_client()  # moto answers the unknown token; a real round trip through botocore

            # Instrument the steps (the wrappers are what the code under test calls).
            for name in ("get_cell", "get_cell_and_connections", "complete_cell", "record_prediction",
                         "reserve_create_slots"):
                setattr(repo, name, timer.wrap("dynamodb", getattr(repo, name)))
            notifier._notifier.push_to_owner = timer.wrap("push", notifier._notifier.push_to_owner)  # type: ignore[method-assign]
            real_send = workflow._send
            workflow._send = timer.wrap("sfn", lambda call, c: real_send(call, c or sfn))  # type: ignore[assignment]
            steps: dict[str, float] = {}
            real_persist = outputs.persist_output

            def persist(*args: Any, **kwargs: Any) -> Any:
                stored = real_persist(*args, **kwargs)
                steps.update(stored.timings)
                return stored

            outputs.persist_output = persist  # type: ignore[assignment]  # cells imports it at call time

            rows: list[dict[str, float]] = []
            lambda_ms: list[float] = []
            now = repository.now_iso()
            for run in range(runs + 3):  # 3 warm-up runs
                batch_id = f"bench-{run}"
                repo.create_batch(
                    Batch(batchId=batch_id, owner=OWNER, sourceImageUrls=["https://src.test/a.jpg"], angles=["front_0"],
                          totalJobs=1, createdAt=now, updatedAt=now),
                    [Cell(batchId=batch_id, type=CellType.ANGLE, angleKey="front_0", owner=OWNER,
                          sourceImageUrls=["https://src.test/a.jpg"],
                          prompt="Studio photo of this car, angle: front.", createdAt=now, updatedAt=now)],
                )
                context = FakeLambdaContext()
                t0 = time.perf_counter()
                prediction_id = run_prediction.lambda_handler(
                    {"batchId": batch_id, "runId": batch_id, "owner": OWNER, "angleKey": "front_0", "colorKey": None,
                     "taskToken": f"token-{run}"}, context
                )["predictionId"]
                t_run = (time.perf_counter() - t0) * 1000

                def deliver(body: dict[str, Any], msg_id: str, batch_id: str = batch_id) -> tuple[int, float]:
                    raw = json.dumps(body)
                    ts = int(time.time())
                    event = {
                        "version": "2.0", "routeKey": "POST /webhooks/replicate", "rawPath": "/webhooks/replicate",
                        "headers": {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                                    "webhook-signature": Webhook(SECRET).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), raw),
                                    "content-type": "application/json"},
                        "queryStringParameters": {"batchId": batch_id, "angleKey": "front_0", "owner": OWNER},
                        "body": raw, "isBase64Encoded": False,
                    }
                    start = time.perf_counter()
                    answer = webhook.lambda_handler(event, FakeLambdaContext())
                    return answer["statusCode"], (time.perf_counter() - start) * 1000

                timer.current.clear()
                steps.clear()
                status, t_done = deliver(
                    {"id": prediction_id, "status": "succeeded", "output": f"http://{host}/out.png"}, f"done-{run}"
                )
                assert status == 200, status
                if run < 3:
                    continue
                row = {"total": t_done, **steps, **timer.current}
                row["excl_download"] = t_done - row.get("download", 0.0)
                rows.append(row)
                lambda_ms.append(t_run + t_done)
            assert len(ws.messages(message_type="marketplaceJobUpdated")) >= runs

    order = ["download", "png_check", "thumbnail", "s3", "dynamodb", "push", "sfn", "excl_download", "total"]
    print(f"Webhook path, one {len(PNG) / 1e6:.2f} MB 1152x896 PNG, {runs} runs after 3 warm-ups, moto in-process")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (figures are wall time)")
    print("(steps overlap: full-PNG put || thumbnail, push || SendTaskSuccess; 'dynamodb' sums the")
    print(" cell-and-connections read and the completing transaction; 'push' posts to the read connections)")
    print(f"{'step':<16}{'p50 ms':>10}{'p90 ms':>10}")
    for key in order:
        values = [row.get(key, 0.0) for row in rows]
        print(f"{key:<16}{statistics.median(values):>10.1f}{percentile(values, 0.9):>10.1f}")
    p50 = statistics.median(row["excl_download"] for row in rows)
    per_image = statistics.median(lambda_ms)
    print(f"webhook excl. download p50: {p50:.1f} ms = {p50 / GOAL_WEBHOOK_MS:.2f} x the {GOAL_WEBHOOK_MS:.0f} ms goal")
    print(f"Lambda time per output image (RunPrediction + the completed webhook) p50: {per_image:.1f} ms "
          f"= {per_image / GOAL_LAMBDA_MS:.2f} x the {GOAL_LAMBDA_MS:.0f} ms goal")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
