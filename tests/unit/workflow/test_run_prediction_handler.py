"""RunPrediction: the real replicate client against a recording fake Replicate (httpx transport)."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import replicate
from workflow_testkit import TOKEN, WEBHOOK_URL, World, data_uri, make_batch, png_bytes, start, succeeded

from marketplace import cells, predictions
from marketplace.errors import ReplicateRateLimited, ReplicateRejected, ReplicateUnavailable
from marketplace.observability import logger
from marketplace.urls import HANDOVER_URL_SECONDS
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

run_prediction = load_function("run_prediction")


@dataclass
class FakeReplicate:
    """Answers like api.replicate.com; ``answers`` queues (status, body) or exceptions."""

    requests: list[httpx.Request] = field(default_factory=list)
    answers: list[Any] = field(default_factory=list)
    created: int = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            status, body = answer
            return httpx.Response(status, json=body)
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
    fake = FakeReplicate()
    client = replicate.Client(api_token=TOKEN, base_url="https://api.replicate.test", transport=httpx.MockTransport(fake.handler))
    monkeypatch.setattr(predictions, "get_client", lambda: client)
    return fake


def invoke(batch_id: str, angle: str, color: str | None, token: str, run_id: str | None = None) -> dict[str, Any]:
    event = {"batchId": batch_id, "runId": run_id or batch_id, "angleKey": angle, "colorKey": color, "taskToken": token}
    return run_prediction.lambda_handler(event, FakeLambdaContext())


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_given_an_angle_cell_when_run_then_every_source_goes_to_nano_banana_with_a_png_and_the_webhook(
    world: World, fake_replicate: FakeReplicate
) -> None:
    sources = ("https://src.example.test/1.jpg", "https://src.example.test/2.jpg", "https://src.example.test/3.jpg")
    make_batch(world.repo, sources=sources)

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
    assert body["webhook_events_filter"] == ["start", "completed"]
    hook = urlsplit(body["webhook"])
    assert f"{hook.scheme}://{hook.netloc}{hook.path}" == WEBHOOK_URL
    assert parse_qs(hook.query) == {"batchId": ["b-1"], "angleKey": ["front_0"]}
    cell = world.cell("b-1", "front_0")
    assert cell["predictionId"] == "pred-1" and cell["taskToken"] == "tok-a"
    assert cell["imageInput"] == list(sources)
    assert world.pointer("pred-1") == {
        "PK": "PRED#pred-1", "SK": "PRED", "batchId": "b-1", "angleKey": "front_0", "owner": "dealer-1",
    }


def test_given_a_finished_angle_when_its_colour_cell_runs_then_exactly_the_angles_stored_image_is_sent_signed_now(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    pointer = start(world.repo, "b-1", "front_0", None, "p-angle", "tok-angle")
    cells.handle_prediction_update(succeeded("p-angle", data_uri(png_bytes())), pointer)

    invoke("b-1", "front_0", "red_metallic", "tok-c")

    body = fake_replicate.bodies()[0]
    (handed_over,) = body["input"]["image_input"]
    assert urlsplit(handed_over).path.endswith(world.cell("b-1", "front_0")["imageKey"])
    # Signed for the hand-over (an hour), not days ago when the angle was stored: a URL signed
    # with a Lambda role's credentials dies with them, hours later.
    assert _query(handed_over)["X-Amz-Expires"] == str(HANDOVER_URL_SECONDS)
    assert body["input"]["prompt"] == "Repaint the car body in red_metallic paint."
    assert parse_qs(urlsplit(body["webhook"]).query) == {
        "batchId": ["b-1"], "angleKey": ["front_0"], "colorKey": ["red_metallic"],
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
    pointer = start(world.repo, "b-1", "front_0", None, "p-1", "tok-1")
    failed = {"id": "p-1", "status": "failed", "error": error}
    update = succeeded("p-1", data_uri(png_bytes())) if status == "completed" else failed
    cells.handle_prediction_update(update, pointer)

    invoke("b-1", "front_0", None, "tok-new")

    assert fake_replicate.bodies() == []
    if status == "completed":
        assert world.sfn.successes[-1] == ("tok-new", {"imageKey": world.cell("b-1", "front_0")["imageKey"]})
    else:
        assert world.sfn.failures[-1] == ("tok-new", "PredictionFailed", "model crashed")


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ((429, {"detail": "Request was throttled"}), ReplicateRateLimited),
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


def test_given_a_rate_limit_then_success_when_retried_by_the_workflow_then_one_prediction_is_recorded(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    fake_replicate.answers.append((429, {"detail": "throttled"}))

    with pytest.raises(ReplicateRateLimited):
        invoke("b-1", "front_0", None, "tok-1")
    answer = invoke("b-1", "front_0", None, "tok-2")

    assert answer == {"predictionId": "pred-1"}
    assert world.cell("b-1", "front_0")["taskToken"] == "tok-2"


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


def test_given_a_missing_cell_when_run_then_it_fails_without_calling_replicate(
    world: World, fake_replicate: FakeReplicate
) -> None:
    make_batch(world.repo)
    with pytest.raises(Exception, match="not found"):
        invoke("b-1", "rear_180", None, "tok-1")
    assert fake_replicate.requests == []


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
