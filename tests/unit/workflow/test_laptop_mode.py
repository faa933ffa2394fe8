"""Laptop mode: a real Replicate that cannot reach this machine. Own objects go to Replicate
through its Files API (the official client's ``files.create``), predictions carry no webhook,
and the reconciler learns their end from Replicate's prediction list, then settles each ended
cell through the one path every outcome takes."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

import httpx
import pytest
import replicate
from workflow_testkit import OWNER, TOKEN, World, data_uri, make_batch, png_bytes, start

from marketplace import handover, predictions
from marketplace.config import get_settings
from marketplace.urls import object_url
from tests.support.lambdas import FakeLambdaContext, load_function

pytestmark = pytest.mark.unit

run_prediction = load_function("run_prediction")
reconcile = load_function("reconcile")
BASE = "https://api.replicate.test"


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeReplicate:
    """api.replicate.com for files, creates and the prediction list (recording every request)."""

    requests: list[httpx.Request] = field(default_factory=list)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    predictions: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    page_size: int = 100
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, request: httpx.Request) -> httpx.Response:
        with self.lock:  # an angle's photos are uploaded side by side
            return self._answer(request)

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.answers:
            status, body = self.answers.pop(0)
            return httpx.Response(status, json=body, headers={"retry-after": "2"} if status == 429 else None)
        now = datetime.now(UTC)
        if request.method == "POST" and request.url.path == "/v1/files":
            content_type = request.headers["content-type"].encode()
            message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type + b"\r\n\r\n" + request.content)
            part = next(p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "content")
            data = part.get_payload(decode=True)
            self.uploads.append((str(part.get_filename()), data))
            file_id = f"file-{len(self.uploads)}"
            return httpx.Response(201, json={
                "id": file_id, "name": part.get_filename(), "content_type": part.get_content_type(), "size": len(data),
                "etag": "e", "checksums": {}, "metadata": {}, "created_at": _iso(now),
                "expires_at": _iso(now + timedelta(hours=24)), "urls": {"get": f"{BASE}/v1/files/{file_id}"}})
        if request.method == "POST":
            body = json.loads(request.content)
            pid = f"pred-{len(self.predictions) + 1}"
            self.predictions[pid] = {"id": pid, "status": "starting", "input": body["input"], "output": None,
                                     "created_at": _iso(now), "request": body}
            return httpx.Response(201, json={**self.predictions[pid], "model": "google/nano-banana", "version": "v",
                                             "urls": {"get": "x", "cancel": "x"}, "logs": "", "error": None})
        if request.url.path == "/v1/predictions":
            ordered = sorted(self.predictions.values(), key=lambda p: p["created_at"], reverse=True)
            start = int(request.url.params.get("cursor") or 0)
            page = ordered[start : start + self.page_size]
            more = start + self.page_size < len(ordered)
            return httpx.Response(200, json={"previous": None, "results": page,
                                             "next": f"{BASE}/v1/predictions?cursor={start + self.page_size}" if more else None})
        pid = request.url.path.rsplit("/", 1)[-1]
        return httpx.Response(200, json=self.predictions[pid])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeReplicate:
    fake = FakeReplicate()
    real_client = replicate.Client
    transport = httpx.MockTransport(fake.handler)
    monkeypatch.setattr(replicate, "Client", lambda **kw: real_client(transport=transport, **kw))
    real_httpx_client = httpx.Client
    # The poller's own httpx client (list, get) meets the same fake.
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_httpx_client(**{"transport": transport, **kw}))
    monkeypatch.setattr(predictions, "_clients", {})
    return fake


@pytest.fixture
def laptop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_INPUT_HANDOVER", "files")
    monkeypatch.setenv("REPLICATE_COMPLETION", "poll")
    get_settings.cache_clear()
    handover.reset()


def _invoke(angle_key: str, color: str | None, token: str, **extra: Any) -> dict[str, Any]:
    event = {"batchId": "b-1", "runId": "b-1", "owner": OWNER, "angleKey": angle_key, "colorKey": color,
             "taskToken": token, **extra}
    return run_prediction.lambda_handler(event, FakeLambdaContext())


def _own_uploads(world: World, count: int) -> tuple[str, ...]:
    urls = []
    for i in range(count):
        key = f"uploads/0000000{i}-photo.jpg"
        world.s3.put_object(Bucket=get_settings().bucket_name, Key=key, Body=b"\xff\xd8\xff" + bytes([i]) * 64,
                            ContentType="image/jpeg")
        urls.append(object_url(key))
    return tuple(urls)


def test_given_laptop_mode_when_two_angles_run_then_each_photo_is_uploaded_once_and_no_webhook_is_asked(
    world: World, fake: FakeReplicate, laptop: None
) -> None:
    sources = _own_uploads(world, 3)
    make_batch(world.repo, angles=("front_0", "side_90"), colors=(), sources=sources)

    _invoke("front_0", None, "tok-a")
    _invoke("side_90", None, "tok-b")

    assert sorted(name for name, _ in fake.uploads) == [f"0000000{i}-photo.jpg" for i in range(3)]
    uploaded = {f"{BASE}/v1/files/file-{n + 1}": data for n, (_, data) in enumerate(fake.uploads)}
    creates = [p["request"] for p in fake.predictions.values()]
    assert len(creates) == 2
    for body in creates:  # the S3 objects' bytes, in the batch's order
        assert [uploaded[url] for url in body["input"]["image_input"]] == [b"\xff\xd8\xff" + bytes([i]) * 64
                                                                           for i in range(3)]
        assert "webhook" not in body and "webhook_events_filter" not in body
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.requests)
    assert world.cell("b-1", "front_0")["imageInput"] == creates[0]["input"]["image_input"]


def test_given_laptop_mode_when_a_colour_runs_then_its_angles_stored_png_is_handed_over_as_a_file(
    world: World, fake: FakeReplicate, laptop: None
) -> None:
    make_batch(world.repo, colors=("red_metallic",))
    angle_png = png_bytes(color=(10, 200, 10))
    world.s3.put_object(Bucket=get_settings().bucket_name, Key="batches/b-1/front_0/angle.png", Body=angle_png)

    _invoke("front_0", "red_metallic", "tok-c", angle={"imageKey": "batches/b-1/front_0/angle.png"}, colorIndex=0)

    assert fake.uploads == [("angle.png", angle_png)]
    assert next(iter(fake.predictions.values()))["input"]["image_input"] == [f"{BASE}/v1/files/file-1"]


def test_given_the_client_asks_for_no_timeout_when_it_uploads_and_creates_then_both_are_bounded_all_the_same(
    world: World, fake: FakeReplicate, laptop: None
) -> None:
    make_batch(world.repo, colors=(), sources=_own_uploads(world, 1))

    _invoke("front_0", None, "tok-a")

    upload = next(r for r in fake.requests if r.url.path == "/v1/files")
    timeout = upload.extensions["timeout"]
    assert None not in timeout.values() and timeout["read"] <= 60, timeout  # files.create passes timeout=None
    create = next(r for r in fake.requests if r.url.path.endswith("/predictions"))
    assert create.extensions["timeout"]["read"] == 10.0  # create without wait passes timeout=None too


def test_given_replicate_says_429_to_an_upload_when_run_then_the_cell_waits_instead_of_failing(
    world: World, fake: FakeReplicate, laptop: None
) -> None:
    make_batch(world.repo, colors=(), sources=_own_uploads(world, 1))
    fake.answers.append((429, {"detail": "Request was throttled.", "status": 429}))

    answer = _invoke("front_0", None, "tok-a")

    assert "waitSeconds" in answer and fake.predictions == {}
    assert world.sfn.successes[0][1]["waitSeconds"] >= 2
    assert world.cell("b-1", "front_0")["status"] == "queued"


def test_given_poll_mode_when_the_list_shows_a_fresh_prediction_ended_then_the_sweep_completes_its_cell_at_once(
    world: World, fake: FakeReplicate, laptop: None
) -> None:
    make_batch(world.repo, angles=("front_0", "side_90"), colors=())
    for angle, pid in (("front_0", "pred-1"), ("side_90", "pred-2")):
        fake.predictions[pid] = {"id": pid, "status": "processing", "created_at": _iso(datetime.now(UTC))}
        start(world.repo, "b-1", angle, None, pid, f"tok-{angle}")
    fake.predictions["pred-1"].update(status="succeeded", output=data_uri(png_bytes()))
    untouched = world.cell("b-1", "side_90")["GSI1SK"]

    answer = reconcile.lambda_handler({"source": "aws.events"}, FakeLambdaContext())

    assert answer == {"checked": 1, "outcomes": {"completed": 1}}  # seconds old: no 90 s wait
    assert world.cell("b-1", "front_0")["status"] == "completed"
    assert world.sfn.successes[0][0] == "tok-front_0"
    assert world.cell("b-1", "side_90")["GSI1SK"] == untouched  # running: no write, no GET
    gets = [r.url.path for r in fake.requests if r.method == "GET"]
    assert gets == ["/v1/predictions", "/v1/predictions/pred-1"]


def test_given_poll_mode_when_a_pending_prediction_is_past_the_first_page_then_the_list_is_paged_to_it(
    world: World, fake: FakeReplicate, laptop: None
) -> None:
    fake.page_size = 2
    make_batch(world.repo, colors=())
    old = datetime.now(UTC) - timedelta(seconds=30)
    fake.predictions["pred-1"] = {"id": "pred-1", "status": "failed", "error": "E005 sensitive", "created_at": _iso(old)}
    start(world.repo, "b-1", "front_0", None, "pred-1", "tok-1")
    for i in range(5):  # newer predictions of the same account
        fake.predictions[f"other-{i}"] = {"id": f"other-{i}", "status": "succeeded",
                                          "created_at": _iso(datetime.now(UTC) + timedelta(seconds=i))}

    assert reconcile.lambda_handler({}, FakeLambdaContext())["outcomes"] == {"failed": 1}
    assert world.cell("b-1", "front_0")["error"] == "E005 sensitive"
    assert len([r for r in fake.requests if r.url.path == "/v1/predictions"]) == 3


def test_given_webhook_mode_when_the_list_would_show_a_fresh_end_then_the_sweep_waits_for_the_webhook(
    world: World, fake: FakeReplicate
) -> None:
    make_batch(world.repo, colors=())
    fake.predictions["pred-1"] = {"id": "pred-1", "status": "succeeded", "created_at": _iso(datetime.now(UTC))}
    start(world.repo, "b-1", "front_0", None, "pred-1", "tok-1")

    assert reconcile.lambda_handler({}, FakeLambdaContext()) == {"checked": 0, "outcomes": {}}
    assert fake.requests == []


def test_given_a_next_page_on_another_origin_when_listed_then_it_is_not_followed(
    fake: FakeReplicate, laptop: None
) -> None:
    fake.answers.append((200, {"results": [], "next": "https://evil.example/v1/predictions?cursor=1"}))
    assert predictions.list_predictions_page() == ([], None)
    fake.answers.append((200, {"results": [{"id": "a"}], "next": f"{BASE}/v1/predictions?cursor=1"}))
    assert predictions.list_predictions_page()[1] == f"{BASE}/v1/predictions?cursor=1"


def test_given_an_unknown_mode_when_settings_are_read_then_they_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("REPLICATE_INPUT_HANDOVER", "ftp")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="replicate_input_handover"):
        get_settings()
