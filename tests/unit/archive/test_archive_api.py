"""POST/GET /batch/{batchId}/archive against moto, with the builder run through its real handler
(the API's asynchronous invoke replaced by a call the test makes when it chooses)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from PIL import Image

from marketplace import repository
from tests.support.aws_resources import BUCKET, TABLE
from tests.support.lambda_events import FakeContext, answer_json, http_event, load_function

pytestmark = pytest.mark.unit
BASE = "/api/car/marketplace"
SOURCES = ["https://images.example.com/a.jpg"]
ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic"]


@pytest.fixture
def api(ws_posts: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("marketplace.source_urls._resolve", lambda host: ["93.184.216.34"])
    monkeypatch.setenv("ARCHIVE_FUNCTION_NAME", "build-archive-test")
    from marketplace.config import get_settings

    get_settings.cache_clear()
    module = load_function("api")

    def call(method: str, path: str, body: Any = None, user: str = "dealer-1", **kw: Any) -> tuple[int, Any]:
        answer = module.lambda_handler(http_event(method, path, body, {"x-dev-user": user}, **kw), FakeContext())
        return answer["statusCode"], answer_json(answer)

    return call


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, str]]:
    """The builder events the API sent (InvocationType=Event), not yet run."""
    sent: list[dict[str, str]] = []
    monkeypatch.setattr("marketplace.archive.service.invoke_builder",
                        lambda batch_id, build_id: sent.append({"batchId": batch_id, "buildId": build_id}))
    return sent


def run_builder(event: dict[str, str]) -> dict[str, Any]:
    return load_function("build_archive").lambda_handler(event, FakeContext())


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def finished_batch(api, user: str = "dealer-1") -> str:
    """A 2 x 2 batch: every cell completed (PNG and thumbnail in S3) but side_90/blue, failed."""
    status, created = api("POST", f"{BASE}/batch", {"sourceImageUrls": SOURCES, "angles": ANGLES, "colors": COLORS},
                          user=user)
    assert status == 202, created
    batch_id = created["batchId"]
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    for index, angle in enumerate(ANGLES):
        for color in [None, *COLORS]:
            key = {"PK": {"S": f"BATCH#{batch_id}"}, "SK": {"S": f"CELL#{angle}#{color or '-'}"}}
            if (angle, color) == ("side_90", "blue_metallic"):
                dynamodb.update_item(TableName=TABLE, Key=key, UpdateExpression="SET #s = :s, #e = :e",
                                     ExpressionAttributeNames={"#s": "status", "#e": "error"},
                                     ExpressionAttributeValues={":s": {"S": "failed"}, ":e": {"S": "PredictionFailed: NSFW"}})
                continue
            image_key = f"batches/{batch_id}/{angle}/{color or 'angle'}.png"
            s3.put_object(Bucket=BUCKET, Key=image_key, Body=png((index * 90, 40, 200)))
            s3.put_object(Bucket=BUCKET, Key=image_key.replace(".png", ".thumb.png"), Body=png((index * 90, 40, 200), (32, 24)))
            dynamodb.update_item(
                TableName=TABLE, Key=key,
                UpdateExpression="SET #s = :s, imageKey = :i, thumbKey = :t, completedAt = :c",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": "completed"}, ":i": {"S": image_key},
                                           ":t": {"S": image_key.replace(".png", ".thumb.png")},
                                           ":c": {"S": "2026-11-29T10:00:00.000Z"}},
            )
    return batch_id


def archive_path(batch_id: str) -> str:
    return f"{BASE}/batch/{batch_id}/archive"


def archive_call(api, method: str, batch_id: str, user: str = "dealer-1") -> tuple[int, Any]:
    return api(method, archive_path(batch_id), user=user, route_key=f"{method} {BASE}/batch/{{batchId}}/archive",
               path_parameters={"batchId": batch_id})


def download(url: str) -> bytes:
    # moto's presigned URL: read the same object through the client (no sockets in unit tests)
    key = url.split(f"/{BUCKET}/", 1)[1].split("?", 1)[0]
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def test_given_a_finished_batch_when_the_archive_is_asked_for_then_202_building_and_one_builder_event(api, builds):
    batch_id = finished_batch(api)

    status, body = archive_call(api, "POST", batch_id)

    assert (status, body) == (202, {"status": "building"})
    assert len(builds) == 1 and builds[0]["batchId"] == batch_id
    assert archive_call(api, "GET", batch_id) == (200, {"status": "building"})


def test_given_a_build_under_way_when_asked_again_then_it_answers_building_and_starts_nothing(api, builds):
    batch_id = finished_batch(api)
    archive_call(api, "POST", batch_id)

    status, body = archive_call(api, "POST", batch_id)

    assert (status, body) == (202, {"status": "building"}) and len(builds) == 1


def test_given_the_builder_ran_when_read_then_ready_with_a_fresh_url_and_the_owner_was_told(api, builds, ws_posts):
    batch_id = finished_batch(api)
    repository.get_repository().put_connection("conn-1", "dealer-1")
    archive_call(api, "POST", batch_id)

    assert run_builder(builds[0])["status"] == "ready"
    status, body = archive_call(api, "GET", batch_id)

    assert status == 200 and body["status"] == "ready" and body["images"] == 5
    assert "X-Amz-Signature" in body["url"] and "attachment" in body["url"]
    data = download(body["url"])
    assert body["bytes"] == len(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    assert sorted(names) == sorted([
        "Front (0deg)/Studio angle.png", "Front (0deg)/Red Metallic.png", "Front (0deg)/Blue Metallic.png",
        "Side (90deg)/Studio angle.png", "Side (90deg)/Red Metallic.png", "matrix.png", "manifest.json"])
    [message] = ws_posts.messages("conn-1", "marketplaceArchiveReady")
    assert message["data"]["batchId"] == batch_id and download(message["data"]["url"]) == data


def test_given_the_built_archive_when_its_manifest_is_read_then_every_cell_is_described(api, builds):
    batch_id = finished_batch(api)
    archive_call(api, "POST", batch_id)
    run_builder(builds[0])
    _, body = archive_call(api, "GET", batch_id)

    with zipfile.ZipFile(io.BytesIO(download(body["url"]))) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        matrix = Image.open(io.BytesIO(archive.read("matrix.png")))

    assert manifest["batchId"] == batch_id and manifest["images"] == 5 and manifest["matrix"] == "matrix.png"
    assert [(a["key"], a["label"]) for a in manifest["angles"]] == [("front_0", "Front (0°)"), ("side_90", "Side (90°)")]
    cells = {(c["angleKey"], c["colorKey"]): c for c in manifest["cells"]}
    assert len(cells) == 6
    failed = cells[("side_90", "blue_metallic")]
    assert failed["status"] == "failed" and failed["file"] is None and failed["error"] == "PredictionFailed: NSFW"
    red = cells[("front_0", "red_metallic")]
    assert red["file"] == "Front (0deg)/Red Metallic.png" and red["status"] == "completed"
    assert red["attempt"] == 1 and "Red" in red["prompt"] and red["colorLabel"] == "Red Metallic" and red["bytes"] > 0
    # the snapshot's cost: 5 completed images billed at the default $0.039 (no prediction counted here)
    assert manifest["cost"] == {"predictions": 0, "billedImages": 5, "costUsd": 0.2}
    from marketplace.archive import contact_sheet

    assert matrix.format == "PNG" and matrix.size == contact_sheet.Layout(rows=2, columns=3).size


def test_given_a_ready_archive_when_asked_again_then_it_rebuilds_and_the_old_zip_is_removed(api, builds):
    batch_id = finished_batch(api)
    archive_call(api, "POST", batch_id)
    run_builder(builds[0])
    first_key = download_key = archive_call(api, "GET", batch_id)[1]["url"].split(f"/{BUCKET}/", 1)[1].split("?")[0]

    assert archive_call(api, "POST", batch_id) == (202, {"status": "building"})
    run_builder(builds[1])
    _, body = archive_call(api, "GET", batch_id)

    assert body["status"] == "ready" and len(builds) == 2
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=f"batches/{batch_id}/archive/")["Contents"]
    assert [o["Key"] for o in listed] != [first_key] and len(listed) == 1
    assert download_key not in body["url"]


def test_given_an_old_build_event_when_it_runs_after_a_newer_request_then_it_changes_nothing(api, builds):
    batch_id = finished_batch(api)
    archive_call(api, "POST", batch_id)
    run_builder(builds[0])
    archive_call(api, "POST", batch_id)

    assert run_builder(builds[0])["status"] == "skipped"  # a repeated delivery of the first event
    assert archive_call(api, "GET", batch_id) == (200, {"status": "building"})


def test_given_another_users_batch_when_its_archive_is_asked_for_or_read_then_404(api, builds):
    batch_id = finished_batch(api)
    archive_call(api, "POST", batch_id)

    for method in ("POST", "GET"):
        status, body = archive_call(api, method, batch_id, user="dealer-2")
        assert status == 404 and body["error"]["code"] == "not_found" and body["error"]["field"] == "batchId"
    assert len(builds) == 1


def test_given_an_unknown_batch_or_no_archive_yet_when_read_then_404(api, builds):
    assert archive_call(api, "POST", "no-such-batch")[0] == 404
    assert archive_call(api, "GET", "no-such-batch")[0] == 404
    batch_id = finished_batch(api)
    status, body = archive_call(api, "GET", batch_id)
    assert status == 404 and "POST" in body["error"]["message"]
    assert builds == []


def test_given_a_malformed_batch_id_when_asking_for_the_archive_then_422_names_it(api, builds):
    status, body = api("POST", f"{BASE}/batch/bad%20id!/archive", route_key=f"POST {BASE}/batch/{{batchId}}/archive",
                       path_parameters={"batchId": "bad id!"})
    assert status == 422 and body["error"]["field"] == "batchId"


def test_given_the_builder_cannot_be_started_when_asked_then_503_and_the_archive_reads_failed(api, monkeypatch):
    batch_id = finished_batch(api)

    def refuse(batch_id: str, build_id: str) -> None:
        raise RuntimeError("Lambda throttled")

    monkeypatch.setattr("marketplace.archive.service.invoke_builder", refuse)
    status, body = archive_call(api, "POST", batch_id)

    assert status == 503 and body["error"]["field"] == "batchId"
    assert archive_call(api, "GET", batch_id)[1]["status"] == "failed"


def test_given_a_build_that_fails_when_read_then_failed_with_the_reason_and_a_new_request_may_rebuild(api, builds, monkeypatch):
    batch_id = finished_batch(api)
    archive_call(api, "POST", batch_id)
    monkeypatch.setattr("marketplace.archive.build.render_matrix", lambda *a, **k: (_ for _ in ()).throw(OSError("no space")))

    assert run_builder(builds[0])["status"] == "failed"
    status, body = archive_call(api, "GET", batch_id)

    assert status == 200 and body["status"] == "failed" and "no space" in body["error"]
    assert "url" not in body
    assert archive_call(api, "POST", batch_id) == (202, {"status": "building"}) and len(builds) == 2


def test_given_the_openapi_document_when_served_then_it_lists_both_archive_routes(api):
    status, document = api("GET", "/api/openapi.json")
    path = document["paths"][f"{BASE}/batch/{{batchId}}/archive"]
    assert status == 200 and {"get", "post"} <= set(path)
    assert {"202", "404", "422"} <= set(path["post"]["responses"]) and {"200", "404"} <= set(path["get"]["responses"])
