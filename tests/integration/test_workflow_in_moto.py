"""The REAL statemachines/batch.asl.json executed by moto, with the real functions in-process:
RunPrediction → Replicate stand-in (real HTTP) → signed webhook → ReplicateWebhook → S3/DynamoDB
→ SendTaskSuccess → colour jobs → FinalizeBatch. Batches are written directly through the
repository (hand-written prompts) and started with marketplace.workflow.start_execution."""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from PIL import Image

from marketplace.domain import Batch, Cell
from tests.support.inprocess_stack import stack_in_process

pytestmark = pytest.mark.integration

OWNER = "dev-user"
ANGLES = ("front_0", "side_90")
COLORS = ("red_metallic", "blue_metallic")
EXECUTION_TIMEOUT_SECONDS = 60


@pytest.fixture(scope="module")
def stack() -> Iterator[Any]:
    # The schedule is driven by hand (scenario "dropped webhook"), never by the timer.
    env = {"STANDIN_LATENCY_SECONDS": "0.1", "RECONCILE_AFTER_SECONDS": "0", "POWERTOOLS_LOG_LEVEL": "WARNING"}
    with stack_in_process(env, schedule_seconds=3600) as local:
        yield local


@pytest.fixture(autouse=True)
def _no_faults(stack: Any) -> Iterator[None]:
    stack.standin.set_faults({})
    yield
    stack.standin.set_faults({})


# ----- helpers -----------------------------------------------------------------------------


def _sources(stack: Any, count: int) -> list[str]:
    from marketplace.config import get_settings

    s3 = stack.client("s3")
    bucket = get_settings().bucket_name
    urls = []
    for index in range(count):
        buffer = io.BytesIO()
        Image.new("RGB", (640, 480), (60 + 60 * index, 40, 140 - 40 * index)).save(buffer, "JPEG")
        key = f"uploads/{uuid.uuid4()}.jpg"
        s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue(), ContentType="image/jpeg")
        urls.append(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600))
    return urls


def _create_batch(stack: Any, angles: tuple[str, ...] = ANGLES, colors: tuple[str, ...] = COLORS, sources: int = 2) -> str:
    from marketplace import repository

    batch_id = f"b-{uuid.uuid4().hex[:10]}"
    now = repository.now_iso()
    cells: list[dict[str, Any]] = []
    for angle in angles:
        label = angle.replace("_", " ")
        cells.append(
            {"batchId": batch_id, "type": "angle", "angleKey": angle, "status": "queued", "createdAt": now, "updatedAt": now,
             "prompt": f"Professional studio photograph of this exact car, angle: {label}. Seamless light grey backdrop."}
        )
        for color in colors:
            paint = color.split("_")[0]
            cells.append(
                {"batchId": batch_id, "type": "color", "angleKey": angle, "colorKey": color, "status": "queued",
                 "createdAt": now, "updatedAt": now,
                 "prompt": f"Repaint the car body in {paint} metallic paint; keep everything else unchanged."}
            )
    batch = {
        "batchId": batch_id, "owner": OWNER, "status": "running", "sourceImageUrls": _sources(stack, sources),
        "angles": list(angles), "colors": list(colors), "autoColorize": True, "totalJobs": len(cells),
        "completedJobs": 0, "failedJobs": 0, "createdAt": now, "updatedAt": now,
    }
    repository.get_repository().create_batch(Batch.model_validate(batch), [Cell.model_validate(c) for c in cells])
    return batch_id


def _start(batch_id: str, angles: tuple[str, ...] = ANGLES, colors: tuple[str, ...] = COLORS) -> str:
    from marketplace import workflow

    run = workflow.execution_input(batch_id, batch_id, list(angles), list(colors), owner=OWNER, run_angle=True,
                                   run_colors=bool(colors))
    arn = workflow.start_execution(run)
    assert arn
    return arn


def _wait(stack: Any, arn: str, timeout: float = EXECUTION_TIMEOUT_SECONDS, tick: Any = None) -> dict[str, Any]:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"execution still running after {timeout}s")
        if tick is not None:
            tick()
        time.sleep(0.2)


def _cells(batch_id: str) -> dict[tuple[str, str | None], dict[str, Any]]:
    from marketplace.repository import get_repository

    return {(c.angleKey, c.colorKey): c.attributes() for c in get_repository().list_cells(batch_id)}


def _predictions(stack: Any, batch_id: str) -> list[dict[str, Any]]:
    return [p for p in stack.standin.list_predictions() if f"batchId={batch_id}" in (p.get("webhook") or "")]


def _batch(batch_id: str) -> dict[str, Any]:
    from marketplace.repository import get_repository

    batch = get_repository().get_batch(batch_id)
    assert batch is not None
    return batch.attributes()


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _assets(batch_id: str) -> list[dict[str, Any]]:
    from marketplace.repository import get_repository

    items, _ = get_repository().list_gallery(OWNER, 1000, None)
    return [a.attributes() for a in items if a.batchId == batch_id]


# ----- scenarios ---------------------------------------------------------------------------


def test_scenario_a_given_two_sources_two_angles_two_colours_when_run_then_six_images_in_order(stack: Any) -> None:
    from marketplace.config import get_settings

    batch_id = _create_batch(stack)
    arn = _start(batch_id)

    described = _wait(stack, arn)

    assert described["status"] == "SUCCEEDED", described
    cells = _cells(batch_id)
    assert {c["status"] for c in cells.values()} == {"completed"}
    predictions = _predictions(stack, batch_id)
    assert len(predictions) == 6
    assert {p["model"] for p in predictions} == {"google/nano-banana"}
    assert {p["input"]["output_format"] for p in predictions} == {"png"}

    sources = _batch(batch_id)["sourceImageUrls"]
    angle_predictions = [p for p in predictions if "colorKey=" not in p["webhook"]]
    color_predictions = [p for p in predictions if "colorKey=" in p["webhook"]]
    assert len(angle_predictions) == 2 and len(color_predictions) == 4
    for prediction in angle_predictions:  # own uploads, re-signed as they were handed over
        assert [urlsplit(u).path for u in prediction["input"]["image_input"]] == [urlsplit(u).path for u in sources]
    for prediction in color_predictions:
        angle = next(a for a in ANGLES if f"angleKey={a}" in prediction["webhook"])
        angle_cell = cells[(angle, None)]
        (handed_over,) = prediction["input"]["image_input"]
        assert urlsplit(handed_over).path.endswith(angle_cell["imageKey"])
        # The colour job starts only after its angle completed.
        assert _iso(prediction["created_at"]) >= _iso(angle_cell["completedAt"])
    keys = sorted(
        o["Key"]
        for o in stack.client("s3").list_objects_v2(Bucket=get_settings().bucket_name, Prefix=f"batches/{batch_id}/")["Contents"]
    )
    assert len([k for k in keys if k.endswith(".thumb.png")]) == 6
    assert len([k for k in keys if not k.endswith(".thumb.png")]) == 6
    assert f"batches/{batch_id}/front_0/angle.png" in keys
    assert f"batches/{batch_id}/side_90/blue_metallic.thumb.png" in keys
    assert len(_assets(batch_id)) == 6
    batch = _batch(batch_id)
    assert (batch["status"], batch["completedJobs"], batch["failedJobs"]) == ("completed", 6, 0)


def test_given_a_failing_angle_when_run_then_its_colours_fail_with_the_reason_and_the_batch_is_failed(stack: Any) -> None:

    batch_id = _create_batch(stack, angles=("front_0",), sources=1)
    stack.standin.set_faults({"fail": 1.0})
    arn = _start(batch_id, angles=("front_0",))

    described = _wait(stack, arn)

    assert described["status"] == "SUCCEEDED"
    cells = _cells(batch_id)
    angle_error = cells[("front_0", None)]["error"]
    assert cells[("front_0", None)]["status"] == "failed" and angle_error
    for color in COLORS:
        assert cells[("front_0", color)]["status"] == "failed"
        assert cells[("front_0", color)]["error"] == f"angle front_0 failed: {angle_error}"
    assert len(_predictions(stack, batch_id)) == 1  # no colour job ever started
    batch = _batch(batch_id)
    assert (batch["status"], batch["completedJobs"], batch["failedJobs"]) == ("failed", 0, 3)  # nothing made
    assert _assets(batch_id) == []


def test_given_duplicate_and_late_webhooks_when_run_then_every_cell_counts_once(stack: Any) -> None:

    batch_id = _create_batch(stack, angles=("front_0",), colors=("red_metallic",), sources=1)
    stack.standin.set_faults({"duplicate": 1.0, "reorder": 1.0})
    arn = _start(batch_id, angles=("front_0",), colors=("red_metallic",))

    described = _wait(stack, arn)
    stack.standin.wait_idle(10)

    assert described["status"] == "SUCCEEDED"
    assert {c["status"] for c in _cells(batch_id).values()} == {"completed"}
    ids = {p["id"] for p in _predictions(stack, batch_id)}
    completed = [
        d for d in stack.standin.list_webhook_deliveries()
        if d["event"] == "completed" and d["prediction_id"] in ids and d["delivered"]
    ]
    for prediction_id in ids:  # each completed webhook arrived (at least) twice, both answered 2xx
        assert len([d for d in completed if d["prediction_id"] == prediction_id]) >= 2
    batch = _batch(batch_id)
    assert (batch["completedJobs"], batch["failedJobs"], batch["status"]) == (2, 0, "completed")
    assert len(_assets(batch_id)) == 2


def test_given_dropped_completed_webhooks_when_the_reconciler_sweeps_then_the_batch_still_finishes(stack: Any) -> None:
    batch_id = _create_batch(stack, angles=("front_0",), colors=("red_metallic",), sources=1)
    stack.standin.set_faults({"drop": 1.0})
    arn = _start(batch_id, angles=("front_0",), colors=("red_metallic",))
    sweeps: list[dict[str, Any]] = []

    def sweep() -> None:
        if all(p["status"] in ("succeeded", "failed") for p in _predictions(stack, batch_id)) and _predictions(stack, batch_id):
            sweeps.append(stack.invoke("ReconcileFunction", {"source": "aws.events", "detail-type": "Scheduled Event"}))

    described = _wait(stack, arn, tick=sweep)

    assert described["status"] == "SUCCEEDED"
    assert {c["status"] for c in _cells(batch_id).values()} == {"completed"}
    assert any(s["outcomes"].get("completed") for s in sweeps)
    assert len(_assets(batch_id)) == 2


def test_given_replicate_rate_limits_the_create_when_run_then_the_workflow_retries_and_succeeds(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marketplace import predictions
    from marketplace.errors import ReplicateRateLimited

    outcomes: list[str] = []
    real = predictions.start_prediction

    def spy(*args: Any, **kwargs: Any) -> str:
        try:
            prediction_id = real(*args, **kwargs)
        except ReplicateRateLimited:
            outcomes.append("429")
            stack.standin.set_faults({})  # the next attempt goes through
            raise
        outcomes.append("created")
        return prediction_id

    monkeypatch.setattr(predictions, "start_prediction", spy)
    batch_id = _create_batch(stack, angles=("front_0",), colors=(), sources=1)
    stack.standin.set_faults({"ratelimit": 1.0})
    arn = _start(batch_id, angles=("front_0",), colors=())

    described = _wait(stack, arn)

    assert described["status"] == "SUCCEEDED"
    assert outcomes[0] == "429" and outcomes[-1] == "created"
    assert outcomes.count("created") == 1
    cell = _cells(batch_id)[("front_0", None)]
    assert cell["status"] == "completed" and cell["predictionCount"] == 1
