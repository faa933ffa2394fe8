"""RunPrediction: the real replicate client (built as the product builds it, its 429 hook included)
against a recording fake Replicate (httpx transport), and the create schedule it paces against."""

from __future__ import annotations

import io
import json
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import replicate
from workflow_testkit import (
    OWNER,
    TOKEN,
    WEBHOOK_URL,
    FakeClock,
    World,
    data_uri,
    deliver,
    make_batch,
    png_bytes,
    start,
    succeeded,
)

from marketplace import keys, predictions
from marketplace.config import get_settings
from marketplace.errors import ReplicateRateLimited, ReplicateRejected, ReplicateUnavailable
from marketplace.observability import logger
from marketplace.pacing import Pacing
from marketplace.urls import HANDOVER_URL_SECONDS
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

run_prediction = load_function("run_prediction")


@dataclass
class FakeReplicate:
    """Answers like api.replicate.com; ``answers`` queues (status, body[, headers]) or exceptions."""

    requests: list[httpx.Request] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    created: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            status, body, *headers = answer
            return httpx.Response(status, json=body, headers=headers[0] if headers else None)
        self.created += 1
        body = json.loads(request.content)
        return httpx.Response(
            201,
            json={
                "id": f"pred-{self.created}", "model": "google/nano-banana", "version": "v", "status": "starting",
                "input": body["input"], "output": None, "error": None, "logs": "", "created_at": "2026-01-01T00:00:00Z",
                "urls": {"get": "https://api.replicate.test/v1/predictions/x", "cancel": "x"},
            },
        )

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.method == "POST"]


@pytest.fixture
def fake_replicate(monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    """predictions.get_client builds its client as in production (token, base URL, timeout, the
    429 hook); only the transport is the fake's."""
    fake = FakeReplicate()
    real_client = replicate.Client
    monkeypatch.setattr(replicate, "Client", lambda **kw: real_client(transport=httpx.MockTransport(fake.handler), **kw))
    monkeypatch.setattr(predictions, "_clients", {})
    return fake


def invoke(batch_id: str, angle_key: str, color: str | None, token: str, run_id: str | None = None,
           owner: str | None = OWNER, **schedule: Any) -> dict[str, Any]:
    """One RunPrediction call as the workflow makes it (with the run's owner); ``schedule``:
    slotMs, colorCount, runColors, angle, colorIndex."""
    event = {"batchId": batch_id, "runId": run_id or batch_id, "owner": owner, "angleKey": angle_key,
             "colorKey": color, "taskToken": token, **schedule}
    return run_prediction.lambda_handler(event, FakeLambdaContext())


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_given_an_angle_cell_when_run_then_every_source_goes_to_nano_banana_with_a_png_and_the_webhook(
    world: World, fake_replicate: FakeReplicate
) -> None:
    sources = ("https://src.example.test/1.jpg", "https://src.example.test/2.jpg", "https://src.example.test/3.jpg")
    make_batch(world.repo, sources=sources)
    world.connect()

    with world.dynamodb_calls() as calls:
        answer = invoke("b-1", "front_0", None, "tok-a")

    assert answer == {"predictionId": "pred-1"}
    request = fake_replicate.requests[0]
    assert request.url.path == "/v1/models/google/nano-banana/predictions"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    body = fake_replicate.bodies()[0]
    assert body["input"] == {
        "prompt": "Studio photo of the car from the front_0 angle.",
        "image_input": list(sources),
        "output_format": "png",
    }
    assert body["webhook_events_filter"] == ["completed"]  # the cell is processing once recorded
    hook = urlsplit(body["webhook"])
    assert f"{hook.scheme}://{hook.netloc}{hook.path}" == WEBHOOK_URL
    # The cell, and its owner: the webhook reads the cell and the owner's connections at once.
    assert parse_qs(hook.query) == {"batchId": ["b-1"], "angleKey": ["front_0"], "owner": [OWNER]}
    cell = world.cell("b-1", "front_0")
    assert (cell["status"], cell["predictionId"], cell["taskToken"]) == ("processing", "pred-1", "tok-a")
    assert cell["imageInput"] == list(sources)
    # The processing cell is pushed to its owner (no start webhook will come).
    assert world.job_updates() == [{
        "type": "angle", "angleKey": "front_0", "colorKey": None, "status": "processing",
        "imageUrl": None, "thumbUrl": None, "error": None, "attempt": 1, "colorCheck": None,
    }]
    # One round trip reads the cell (it carries its sources: no batch row) and the owner's
    # connections (the push needs no other read); one conditional write, one reservation of a
    # create slot; no pointer row.
    operations = [name for name, _ in calls]
    assert operations.count("BatchGetItem") == 1 and "GetItem" not in operations and "Query" not in operations
    assert operations.count("UpdateItem") >= 2
    assert not {"PutItem", "TransactWriteItems"} & set(operations)


def test_given_a_finished_angle_when_its_colour_cell_runs_then_exactly_the_angles_stored_image_is_sent_signed_now(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-angle", "tok-angle")
    deliver(world.repo, succeeded("p-angle", data_uri(png_bytes())), recorded)

    invoke("b-1", "front_0", "red_metallic", "tok-c")

    body = fake_replicate.bodies()[0]
    (handed_over,) = body["input"]["image_input"]
    assert urlsplit(handed_over).path.endswith(world.cell("b-1", "front_0")["imageKey"])
    # Signed for the hand-over (an hour), not days ago when the angle was stored: a URL signed
    # with a Lambda role's credentials dies with them, hours later.
    assert _query(handed_over)["X-Amz-Expires"] == str(HANDOVER_URL_SECONDS)
    assert body["input"]["prompt"] == "Repaint the car body in red_metallic paint."
    assert parse_qs(urlsplit(body["webhook"]).query) == {
        "batchId": ["b-1"], "angleKey": ["front_0"], "colorKey": ["red_metallic"], "owner": [OWNER],
    }


def test_given_a_source_uploaded_days_ago_when_its_angle_runs_then_the_upload_is_re_signed_for_replicate(
    world: World, fake_replicate: FakeReplicate
) -> None:
    from marketplace.urls import object_url

    upload = object_url("uploads/0123abcd.jpg")  # what POST /uploads handed out (7-day signature)
    make_batch(world.repo, sources=(upload, "https://src.example.test/b.jpg"))

    invoke("b-1", "front_0", None, "tok-a")

    own, other = fake_replicate.bodies()[0]["input"]["image_input"]
    assert urlsplit(own).path == urlsplit(upload).path
    assert _query(upload)["X-Amz-Expires"] != _query(own)["X-Amz-Expires"] == str(HANDOVER_URL_SECONDS)
    assert other == "https://src.example.test/b.jpg"  # allow-listed hosts are not ours to sign


def test_given_a_cell_of_another_run_when_a_colourise_run_reaches_it_then_it_is_passed_without_a_prediction(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)

    answer = invoke("b-1", "front_0", "red_metallic", "tok-x", run_id="b-1-colorize-abc")

    assert answer["otherRun"] is True
    assert fake_replicate.bodies() == []
    assert world.sfn.successes == [("tok-x", {"passed": True})]
    assert world.cell("b-1", "front_0", "red_metallic")["status"] == "queued"


def test_given_a_cell_with_a_prediction_in_flight_when_run_again_then_no_second_prediction_is_created(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    invoke("b-1", "front_0", None, "tok-1")

    again = invoke("b-1", "front_0", None, "tok-2")

    assert again["predictionId"] == "pred-1"
    assert len(fake_replicate.bodies()) == 1
    assert world.cell("b-1", "front_0")["taskToken"] == "tok-2"


@pytest.mark.parametrize(("status", "error"), [("completed", None), ("failed", "model crashed")])
def test_given_a_terminal_cell_when_run_again_then_the_task_is_resumed_at_once_from_its_stored_state(
    world: World, fake_replicate: FakeReplicate, status: str, error: str | None
) -> None:
    make_batch(world.repo)
    recorded = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    failed = {"id": "p-1", "status": "failed", "error": error}
    update = succeeded("p-1", data_uri(png_bytes())) if status == "completed" else failed
    deliver(world.repo, update, recorded)

    invoke("b-1", "front_0", None, "tok-new")

    assert fake_replicate.bodies() == []
    if status == "completed":
        assert world.sfn.successes[-1] == ("tok-new", {"imageKey": world.cell("b-1", "front_0")["imageKey"]})
    else:
        assert world.sfn.failures[-1] == ("tok-new", "PredictionFailed", "model crashed")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((500, {"detail": "boom"}), ReplicateUnavailable),
        ((503, {}), ReplicateUnavailable),
        ((422, {"detail": "image_input: invalid"}), ReplicateRejected),
        ((401, {"detail": "Unauthenticated"}), ReplicateRejected),
        (httpx.ConnectError("refused"), ReplicateUnavailable),
        (httpx.ReadTimeout("slow"), ReplicateUnavailable),
    ],
)
def test_given_replicate_answers_an_error_when_run_then_the_workflow_error_class_is_raised_and_nothing_is_recorded(
    world: World, fake_replicate: FakeReplicate, answer: Any, expected: type[Exception]
) -> None:
    make_batch(world.repo)
    fake_replicate.answers.append(answer)

    with pytest.raises(expected) as caught:
        invoke("b-1", "front_0", None, "tok-1")

    assert type(caught.value).__name__ == expected.__name__  # the ASL retries by class name
    assert TOKEN not in str(caught.value)
    assert "predictionId" not in world.cell("b-1", "front_0")


@pytest.mark.parametrize(("retry_after", "at_least"), [("7", 7), (None, 5)], ids=["Retry-After 7", "no Retry-After"])
def test_given_a_429_when_run_then_the_workflow_waits_at_least_the_retry_after_and_the_cell_stays_queued(
    world: World, fake_replicate: FakeReplicate, retry_after: str | None, at_least: int
) -> None:
    world.connect()
    make_batch(world.repo)
    headers = {"Retry-After": retry_after} if retry_after else {}
    fake_replicate.answers.append((429, {"title": "Request was throttled", "status": 429}, headers))

    answer = invoke("b-1", "front_0", None, "tok-1")

    ((token, output),) = world.sfn.successes
    assert token == "tok-1" and output["slotMs"] is None  # a new slot after the wait
    assert at_least <= output["waitSeconds"] <= at_least + 1  # Retry-After plus under a second of jitter
    assert answer == {"waitSeconds": output["waitSeconds"]}
    cell = world.cell("b-1", "front_0")
    assert cell["status"] == "queued" and "predictionId" not in cell and "error" not in cell
    assert world.sfn.failures == [] and world.job_updates() == [] and world.batch("b-1")["failedJobs"] == 0


def test_given_a_429_with_retry_after_when_run_then_no_other_cell_gets_a_slot_before_it(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    fake_replicate.answers.append((429, {"title": "Request was throttled", "status": 429}, {"Retry-After": "30"}))
    before = int(time.time() * 1000)

    invoke("b-1", "front_0", None, "tok-1")
    pace = Pacing(get_settings().replicate_creates_per_minute, get_settings().replicate_create_burst)
    next_slot = world.repo.reserve_create_slots(1, pace.interval_ms, pace.burst_ms, int(time.time() * 1000))

    # Back-pressure: the shared schedule holds every cell until Replicate's Retry-After.
    assert next_slot >= before + 30_000


def test_given_a_429_then_the_workflows_next_call_when_run_then_one_prediction_is_recorded(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    fake_replicate.answers.append((429, {"detail": "throttled"}, {"Retry-After": "1"}))

    first = invoke("b-1", "front_0", None, "tok-1")
    again = invoke("b-1", "front_0", None, "tok-2", slotMs=None)  # after the Wait state

    assert "waitSeconds" in first and again == {"predictionId": "pred-1"}
    cell = world.cell("b-1", "front_0")
    assert (cell["status"], cell["taskToken"], cell["predictionCount"]) == ("processing", "tok-2", 1)


def test_given_a_run_when_logged_at_debug_then_the_enqueue_line_has_keys_and_prompt_length_but_no_token(
    world: World, fake_replicate: FakeReplicate, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    previous = logger.log_level
    logger.setLevel(logging.DEBUG)
    stream = io.StringIO()
    old_stream = logger.registered_handler.setStream(stream)
    make_batch(world.repo)
    try:
        invoke("b-1", "front_0", None, "tok-1")
    finally:
        logger.setLevel(previous)
        logger.registered_handler.setStream(old_stream)

    out = stream.getvalue() + capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    enqueue = [line for line in lines if str(line.get("message", "")).startswith("[MP] enqueue")]
    assert len(enqueue) == 1
    assert enqueue[0]["level"] == "DEBUG"
    assert enqueue[0]["batch_id"] == "b-1" and enqueue[0]["angle_key"] == "front_0"
    assert enqueue[0]["prompt_length"] == len("Studio photo of the car from the front_0 angle.")
    assert TOKEN not in out and TOKEN not in caplog.text


def test_given_a_pair_the_run_crosses_but_never_made_when_run_then_it_passes_without_calling_replicate(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)

    answer = invoke("b-1", "rear_180", None, "tok-1")

    assert answer["noCell"] is True and fake_replicate.requests == []
    assert world.sfn.successes == [("tok-1", {"passed": True})]


def test_given_a_prediction_id_when_polled_then_the_raw_json_is_returned_even_for_aborted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "p-9", "status": "aborted", "output": None, "error": None})

    client = httpx.Client(base_url="https://api.replicate.test", transport=httpx.MockTransport(handler))
    monkeypatch.setattr(predictions, "_poller", lambda: client)

    assert predictions.get_prediction("p-9")["status"] == "aborted"
    assert seen[0].url.path == "/v1/predictions/p-9"


# ----- pacing: the create schedule ------------------------------------------------------------

DEFAULT_PACE = Pacing(creates_per_minute=600, burst=50)  # the settings' defaults
INTERVAL_MS, BURST_MS = DEFAULT_PACE.interval_ms, DEFAULT_PACE.burst_ms


def test_given_a_create_slot_a_minute_ahead_when_run_then_the_task_is_told_to_wait_and_nothing_is_created(
    world: World, fake_replicate: FakeReplicate, clock: FakeClock
) -> None:
    make_batch(world.repo)
    world.repo.reserve_create_slots(700, INTERVAL_MS, BURST_MS, clock.now_ms)  # a long queue ahead
    slot = clock.now_ms - BURST_MS + 700 * INTERVAL_MS

    answer = invoke("b-1", "front_0", None, "tok-1")

    assert world.sfn.successes == [("tok-1", {"waitSeconds": 65, "slotMs": slot})]
    assert answer == {"waitSeconds": 65}
    assert fake_replicate.requests == [] and clock.sleeps == []
    cell = world.cell("b-1", "front_0")
    assert cell["status"] == "queued" and "predictionId" not in cell and "taskToken" not in cell


def test_given_the_slot_the_workflow_waited_for_when_called_again_then_it_sleeps_the_rest_and_creates_without_a_new_slot(
    world: World, fake_replicate: FakeReplicate, clock: FakeClock
) -> None:
    make_batch(world.repo)
    world.repo.reserve_create_slots(700, INTERVAL_MS, BURST_MS, clock.now_ms)
    invoke("b-1", "front_0", None, "tok-1")
    ((_, wait),) = world.sfn.successes
    schedule = world.pacer()
    clock.now_ms = wait["slotMs"] - 1500  # the 1 s-granular Wait state ended early

    answer = invoke("b-1", "front_0", None, "tok-2", slotMs=wait["slotMs"])

    assert answer == {"predictionId": "pred-1"}
    assert clock.sleeps == [1.5] and clock.now_ms == wait["slotMs"]
    assert world.pacer() == schedule  # the slot was kept, not taken again
    assert world.cell("b-1", "front_0")["taskToken"] == "tok-2"


@pytest.mark.parametrize(("index", "wait_seconds"), [(0, 10), (3, 10), (25, 12)])
def test_given_a_colour_job_with_its_angles_reserved_pace_when_run_then_it_waits_for_start_plus_index_intervals(
    world: World, fake_replicate: FakeReplicate, clock: FakeClock, index: int, wait_seconds: int
) -> None:
    make_batch(world.repo)
    start_ms = clock.now_ms + 10_000
    angle = {"imageKey": "batches/b-1/front_0/angle.png", "colorPace": {"startMs": start_ms, "intervalMs": 100}}

    invoke("b-1", "front_0", "red_metallic", "tok-c", angle=angle, colorIndex=index)

    slot = start_ms + index * 100
    assert world.sfn.successes == [("tok-c", {"waitSeconds": wait_seconds, "slotMs": slot})]
    assert world.pacer() is None  # the angle reserved it: no slot of its own
    assert fake_replicate.requests == []


def test_given_a_colour_job_whose_reserved_slot_is_due_when_run_then_it_creates_from_the_angles_handed_over_key(
    world: World, fake_replicate: FakeReplicate, clock: FakeClock
) -> None:
    make_batch(world.repo)
    angle = {"imageKey": "batches/b-1/front_0/angle.png",
             "colorPace": {"startMs": clock.now_ms - 2_000, "intervalMs": 100}}

    with world.dynamodb_calls() as calls:
        answer = invoke("b-1", "front_0", "red_metallic", "tok-c", angle=angle, colorIndex=4)

    assert answer == {"predictionId": "pred-1"} and clock.sleeps == []
    (handed_over,) = fake_replicate.bodies()[0]["input"]["image_input"]
    assert urlsplit(handed_over).path.endswith("batches/b-1/front_0/angle.png")
    assert _query(handed_over)["X-Amz-Expires"] == str(HANDOVER_URL_SECONDS)
    # The colour's own cell only: neither the angle's cell nor the schedule is read or written.
    reads = [key for name, params in calls if name == "BatchGetItem"
             for key in params["RequestItems"][world.repo.table.name]["Keys"]]
    assert reads == [keys.cell_key("b-1", "front_0", "red_metallic"), keys.owner_connections_key(OWNER)]
    assert "GetItem" not in [name for name, _ in calls]
    assert world.pacer() is None


@pytest.mark.parametrize("pace", [None, "odd", {"startMs": "soon", "intervalMs": 100}, {"startMs": -1, "intervalMs": 1}])
def test_given_a_colour_job_without_a_usable_reservation_when_run_then_it_takes_a_slot_of_its_own(
    world: World, fake_replicate: FakeReplicate, clock: FakeClock, pace: Any
) -> None:
    make_batch(world.repo)
    angle = {"imageKey": "batches/b-1/front_0/angle.png", "colorPace": pace}

    assert invoke("b-1", "front_0", "red_metallic", "tok-c", angle=angle, colorIndex=2) == {"predictionId": "pred-1"}

    assert world.pacer() == {"PK": "PACER#replicate-creates", "SK": "PACER#replicate-creates",
                             "nextMs": clock.now_ms - BURST_MS + INTERVAL_MS}


def test_given_pacing_turned_off_when_run_then_it_creates_at_once_without_touching_the_schedule(
    world: World, fake_replicate: FakeReplicate, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REPLICATE_CREATES_PER_MINUTE", "0")
    get_settings.cache_clear()
    make_batch(world.repo)

    answer = invoke("b-1", "front_0", None, "tok-1", slotMs=clock.now_ms + 600_000)

    assert answer == {"predictionId": "pred-1"}
    assert world.pacer() is None and clock.sleeps == [] and world.sfn.successes == []


@pytest.mark.parametrize(("run_colors", "recorded"), [(True, 3), (False, 0)])
def test_given_an_angle_task_when_run_then_its_cell_records_the_colour_jobs_that_follow_it_in_this_run(
    world: World, fake_replicate: FakeReplicate, run_colors: bool, recorded: int
) -> None:
    make_batch(world.repo, colors=("red_metallic", "blue_metallic", "black_metallic"))

    invoke("b-1", "front_0", None, "tok-1", colorCount=3, runColors=run_colors)

    assert world.cell("b-1", "front_0")["colorCount"] == recorded


def test_given_cells_from_before_they_carried_owner_and_sources_when_run_then_the_batch_row_supplies_them(
    world: World, fake_replicate: FakeReplicate
) -> None:
    sources = ("https://src.example.test/old-1.jpg", "https://src.example.test/old-2.jpg")
    make_batch(world.repo, sources=sources, legacy_cells=True)
    world.connect()

    assert invoke("b-1", "front_0", None, "tok-1") == {"predictionId": "pred-1"}

    assert fake_replicate.bodies()[0]["input"]["image_input"] == list(sources)
    assert [u["status"] for u in world.job_updates()] == ["processing"]


# ----- Replicate's 429 and its Retry-After ----------------------------------------------------

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("2.5", 2.5),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (None, predictions.DEFAULT_RETRY_AFTER_SECONDS),
        ("", predictions.DEFAULT_RETRY_AFTER_SECONDS),
        ("soon", predictions.DEFAULT_RETRY_AFTER_SECONDS),
        ("nan", predictions.DEFAULT_RETRY_AFTER_SECONDS),
        ("-3", 1.0),
        ("0", 1.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 1.0),
        ("86400", predictions.MAX_RETRY_AFTER_SECONDS),
    ],
    ids=["seconds", "fraction", "http date", "missing", "empty", "garbage", "nan", "negative", "zero", "past date",
         "a day"],
)
def test_given_a_retry_after_value_when_read_then_it_is_bounded_seconds_and_never_zero(
    value: str | None, seconds: float
) -> None:
    assert predictions.retry_after_seconds(value, now=NOW) == pytest.approx(seconds)


def test_given_replicate_answering_429_with_retry_after_when_a_prediction_is_started_then_rate_limited_carries_it(
    fake_replicate: FakeReplicate,
) -> None:
    fake_replicate.answers.append((429, {"title": "Request was throttled", "status": 429}, {"Retry-After": "7"}))

    with pytest.raises(ReplicateRateLimited) as caught:
        predictions.start_prediction("a prompt", ["https://src.example.test/a.jpg"], WEBHOOK_URL)

    assert caught.value.retry_after_seconds == 7.0
    assert TOKEN not in str(caught.value)
    assert len(fake_replicate.requests) == 1  # a create is never retried by the client itself


def test_given_many_first_creates_at_once_when_they_get_the_client_then_one_http_client_is_built(
    fake_replicate: FakeReplicate, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The replicate client builds its httpx client (an SSL context, ~10 ms of CPU) on first use
    without a lock; a burst of first creates used to build one each."""
    import threading

    import replicate.client as replicate_client

    built: list[int] = []
    real_build = replicate_client._build_httpx_client

    def slow_build(*args: Any, **kwargs: Any) -> Any:
        built.append(1)
        time.sleep(0.05)  # wide enough for every thread to arrive while the first one builds
        return real_build(*args, **kwargs)

    monkeypatch.setattr(replicate_client, "_build_httpx_client", slow_build)
    barrier = threading.Barrier(8)

    def first_use() -> None:
        barrier.wait()
        _ = predictions.get_client()._client

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
