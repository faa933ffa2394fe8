"""The HTTP API handler against moto, the sample CSVs over HTTP and a fake WebSocket client."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support.lambda_events import FakeContext, answer_json, http_event, load_function

pytestmark = pytest.mark.unit
BASE = "/api/car/marketplace"
SOURCES = ["https://images.example.com/a.jpg", "https://images.example.com/b.jpg"]


@pytest.fixture
def api(ws_posts: Any, monkeypatch: pytest.MonkeyPatch):
    # images.example.com is on the allow-list; pretend it resolves to a public address.
    monkeypatch.setattr("marketplace.source_urls._resolve", lambda host: ["93.184.216.34"])
    module = load_function("api")

    def call(method: str, path: str, body: Any = None, user: str = "dealer-1", headers: dict | None = None, **kw: Any):
        route = kw.pop("route", None)
        hdrs = {"x-dev-user": user, **(headers or {})}
        answer = module.lambda_handler(http_event(method, path, body, hdrs, route_key=route, **kw), FakeContext())
        return answer["statusCode"], answer_json(answer)

    return call


def create(api, user: str = "dealer-1", **overrides: Any) -> tuple[int, Any]:
    body = {"sourceImageUrls": SOURCES, "angles": ["front_0", "side_90"], "colors": ["red_metallic", "blue_metallic"]}
    body.update(overrides)
    return api("POST", f"{BASE}/batch", body, user=user)


def executions() -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    return sfn.list_executions(stateMachineArn=arn)["executions"]


def test_given_the_stack_when_config_is_read_then_it_names_the_websocket_url(api):
    status, body = api("GET", f"{BASE}/config")
    assert status == 200
    assert body["websocketUrl"] == "wss://ws.example.test/prod"
    assert "image/heic" in body["acceptedContentTypes"]


def test_given_sample_sheets_when_presets_are_read_then_enabled_rows_come_back_in_order(api):
    status, body = api("GET", f"{BASE}/presets")
    assert status == 200
    keys = [a["angleKey"] for a in body["angles"]]
    assert keys[:3] == ["front_0", "front_right_45", "side_90"]
    assert "top_down" not in keys
    orders = [a["order"] for a in body["angles"]]
    assert orders == sorted(orders)
    red = next(c for c in body["colors"] if c["colorKey"] == "red_metallic")
    assert red == {"colorKey": "red_metallic", "colorLabel": "Red Metallic", "promptValue": "Red #C00000 (metallic)"}


def test_given_image_files_when_uploads_are_requested_then_each_gets_a_presigned_put(api):
    files = [{"filename": "a.heic", "contentType": "image/heic", "size": 1234},
             {"filename": "b.jpg", "contentType": "image/jpeg", "size": 99}]
    status, body = api("POST", f"{BASE}/uploads", {"files": files})
    assert status == 200
    assert len(body["uploads"]) == 2
    first = body["uploads"][0]
    assert "X-Amz-Signature" in first["uploadUrl"] and first["headers"] == {"Content-Type": "image/heic"}
    assert "/uploads/" in first["sourceImageUrl"] and first["sourceImageUrl"].split("?")[0].endswith(".heic")


@pytest.mark.parametrize(
    ("files", "field"),
    [
        ([{"filename": "a.gif", "contentType": "image/gif", "size": 10}], "files[0].contentType"),
        ([{"filename": "a.png", "contentType": "image/png", "size": 0}], "files[0].size"),
        ([{"filename": "a.png", "contentType": "image/png", "size": 10**9}], "files[0].size"),
        ([], "files"),
        ([{"contentType": "image/png", "size": 10}], "files[0].filename"),
    ],
)
def test_given_a_bad_file_when_uploads_are_requested_then_422_names_the_field(api, files, field):
    status, body = api("POST", f"{BASE}/uploads", {"files": files})
    assert status == 422
    assert body["error"]["field"] == field


def test_given_scenario_a_when_the_batch_is_created_then_cells_prompts_execution_and_push_exist(api, ws_posts):
    from marketplace.repository import get_repository

    get_repository().put_connection("conn-1", "dealer-1")
    status, body = create(api)
    assert status == 202
    assert body["totalJobs"] == 6 and len(body["cells"]) == 6
    assert {(c["type"], c["angleKey"], c["colorKey"], c["status"]) for c in body["cells"]} >= {
        ("angle", "front_0", None, "queued"), ("color", "side_90", "blue_metallic", "queued")}
    cells = [c.attributes() for c in get_repository().list_cells(body["batchId"])]
    red = next(c for c in cells if c.get("colorKey") == "red_metallic")
    assert "Red #C00000 (metallic)" in red["prompt"] and "{{" not in red["prompt"]
    front = next(c for c in cells if c["angleKey"] == "front_0" and not c.get("colorKey"))
    assert "straight-on front view" in front["prompt"]
    assert [e["name"] for e in executions()] == [body["batchId"]]
    created = ws_posts.messages("conn-1", "marketplaceBatchCreated")
    assert created == [{"type": "marketplaceBatchCreated", "data": {
        "batchId": body["batchId"], "totalJobs": 6, "angles": ["front_0", "side_90"],
        "colors": ["red_metallic", "blue_metallic"]}}]


def test_given_auto_colorize_off_when_created_then_only_angle_cells_exist(api):
    status, body = create(api, autoColorize=False)
    assert status == 202 and body["totalJobs"] == 2
    assert all(c["type"] == "angle" for c in body["cells"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sourceImageUrls": []}, "sourceImageUrls"),
        ({"angles": []}, "angles"),
        ({"sourceImageUrls": "https://images.example.com/a.jpg"}, "sourceImageUrls"),
        ({"angles": [1]}, "angles[0]"),
        ({"autoColorize": "yes"}, "autoColorize"),
        ({"angles": ["front_0", "nope"]}, "angles[1]"),
        ({"angles": ["top_down"]}, "angles[0]"),
        ({"colors": ["red_metallic", "red_metallic"]}, "colors[1]"),
        ({"angles": ["front_0", "front_0"]}, "angles[1]"),
        ({"colors": ["no_such_colour"]}, "colors[0]"),
        ({"sourceImageUrls": ["http://images.example.com/a.jpg"]}, "sourceImageUrls[0]"),
        ({"sourceImageUrls": ["https://127.0.0.1/a.jpg"]}, "sourceImageUrls[0]"),
        ({"sourceImageUrls": ["https://169.254.169.254/latest/meta-data"]}, "sourceImageUrls[0]"),
        ({"sourceImageUrls": ["file:///etc/passwd"]}, "sourceImageUrls[0]"),
        ({"sourceImageUrls": ["https://evil.example.net/a.jpg"]}, "sourceImageUrls[0]"),
        ({"sourceImageUrls": SOURCES + SOURCES[:1]}, "sourceImageUrls[2]"),
        ({"angles": ["front_0\u200b"]}, "angles[0]"),
    ],
)
def test_given_a_malformed_body_when_creating_then_422_names_the_field_and_nothing_starts(api, overrides, field):
    status, body = create(api, **overrides)
    assert status == 422, body
    assert body["error"]["field"] == field
    assert body["error"]["code"] == "validation_failed"
    assert executions() == []


@pytest.mark.parametrize("missing", ["sourceImageUrls", "angles"])
def test_given_a_missing_field_when_creating_then_422_names_it(api, missing):
    body = {"sourceImageUrls": SOURCES, "angles": ["front_0"], "colors": []}
    del body[missing]
    status, answer = api("POST", f"{BASE}/batch", body)
    assert status == 422 and answer["error"]["field"] == missing


@pytest.mark.parametrize("raw", ["{not json", "[]", "null", '"text"', ""])
def test_given_a_body_that_is_not_an_object_when_creating_then_422(api, raw):
    status, answer = api("POST", f"{BASE}/batch", raw)
    assert status == 422, answer
    assert answer["error"]["code"] == "validation_failed"


def test_given_a_private_host_on_the_allow_list_when_creating_then_422(api, monkeypatch):
    monkeypatch.setattr("marketplace.source_urls._resolve", lambda host: ["10.0.0.5"])
    status, body = create(api)
    assert status == 422 and body["error"]["field"] == "sourceImageUrls[0]"


def test_given_an_idempotency_key_when_the_request_is_retried_then_the_same_batch_comes_back(api):
    headers = {"idempotency-key": "retry-123"}
    body = {"sourceImageUrls": SOURCES, "angles": ["front_0"], "colors": ["red_metallic"]}
    first = api("POST", f"{BASE}/batch", body, headers=headers)
    second = api("POST", f"{BASE}/batch", body, headers=headers)
    assert first[0] == second[0] == 202
    assert first[1]["batchId"] == second[1]["batchId"]
    assert len(executions()) == 1
    other_user = api("POST", f"{BASE}/batch", body, user="dealer-2", headers=headers)
    assert other_user[1]["batchId"] != first[1]["batchId"]
    changed = api("POST", f"{BASE}/batch", {**body, "angles": ["side_90"]}, headers=headers)
    assert changed[0] == 409 and changed[1]["error"]["field"] == "Idempotency-Key"


def test_given_a_create_that_times_out_when_its_key_is_read_then_the_lock_lapses_with_the_invocation(api, monkeypatch):
    # A Lambda killed by its timeout never deletes its in-progress record: unless the record
    # carries the invocation's deadline, its Idempotency-Key stays locked for 24 hours (409s).
    import time

    from marketplace import batches

    records: list[dict[str, Any]] = []
    create_for_real = batches._create_batch

    def create_and_look(owner: str, request: Any) -> dict[str, Any]:
        table = boto3.client("dynamodb")
        from marketplace.config import get_settings

        scan = table.scan(TableName=get_settings().table_name)["Items"]
        records.extend(item for item in scan if item["PK"]["S"].startswith("idempotency#"))
        return create_for_real(owner, request)

    monkeypatch.setattr(batches, "_create_batch", create_and_look)
    body = {"sourceImageUrls": SOURCES, "angles": ["front_0"], "colors": []}
    before_ms = time.time() * 1000

    assert api("POST", f"{BASE}/batch", body, headers={"idempotency-key": "slow-1"})[0] == 202

    (in_progress,) = records
    assert in_progress["status"]["S"] == "INPROGRESS"
    deadline_ms = int(in_progress["in_progress_expiration"]["N"])
    assert before_ms < deadline_ms <= time.time() * 1000 + FakeContext().get_remaining_time_in_millis()


def test_given_a_batch_when_its_owner_reads_it_then_the_matrix_snapshot_comes_back(api):
    _, created = create(api)
    batch_id = created["batchId"]
    status, body = api("GET", f"{BASE}/batch/{batch_id}", route=f"GET {BASE}/batch/{{batchId}}",
                       path_parameters={"batchId": batch_id})
    assert status == 200
    assert body["batchId"] == batch_id and body["status"] == "running" and body["totalJobs"] == 6
    assert [(c["angleKey"], c["colorKey"]) for c in body["cells"]] == [
        ("front_0", None), ("front_0", "red_metallic"), ("front_0", "blue_metallic"),
        ("side_90", None), ("side_90", "red_metallic"), ("side_90", "blue_metallic")]


def test_given_another_users_batch_when_read_or_colorized_then_404(api):
    _, created = create(api)
    batch_id = created["batchId"]
    for method, path, body in [("GET", f"{BASE}/batch/{batch_id}", None),
                               ("POST", f"{BASE}/batch/{batch_id}/colorize", {"colors": ["red_metallic"]})]:
        status, answer = api(method, path, body, user="dealer-2")
        assert status == 404, (path, answer)
        assert answer["error"]["code"] == "not_found"
    status, _ = api("GET", f"{BASE}/batch/no-such-batch")
    assert status == 404


def test_given_an_unfinished_angle_when_colorizing_then_409_names_it(api):
    _, created = create(api, autoColorize=False)
    status, body = api("POST", f"{BASE}/batch/{created['batchId']}/colorize", {"colors": ["red_metallic"]})
    assert status == 409
    assert body["error"]["field"] == "angles[0]" and "front_0" in body["error"]["message"]


def test_given_finished_angles_when_colorizing_twice_then_cells_are_not_duplicated(api, ws_posts):
    from marketplace.repository import get_repository

    repo = get_repository()
    repo.put_connection("conn-1", "dealer-1")
    _, created = create(api, autoColorize=False)
    batch_id = created["batchId"]
    for angle in ("front_0", "side_90"):
        cell = repo.get_cell(batch_id, angle, None)
        assert repo.complete_cell(cell, "dealer-1", f"batches/{batch_id}/{angle}/angle.png",
                                  f"batches/{batch_id}/{angle}/angle.thumb.png") is not None
    path = f"{BASE}/batch/{batch_id}/colorize"
    status, body = api("POST", path, {"colors": ["red_metallic", "blue_metallic"]})
    assert status == 202 and body == {"batchId": batch_id, "totalJobs": 6, "createdJobs": 4,
                                      "estimate": {"images": 4, "costUsd": 0.16}}
    status, again = api("POST", path, {"colors": ["red_metallic"], "angles": ["front_0"]})
    assert status == 202 and again["createdJobs"] == 0 and again["totalJobs"] == 6
    assert len(repo.list_cells(batch_id)) == 6
    assert len(executions()) == 2
    queued = [m for m in ws_posts.messages("conn-1", "marketplaceJobUpdated") if m["data"]["result"]["status"] == "queued"]
    assert len(queued) == 4
    snapshot = api("GET", f"{BASE}/batch/{batch_id}")[1]
    assert snapshot["status"] == "running" and snapshot["colors"] == ["red_metallic", "blue_metallic"]


def test_given_no_images_yet_when_the_gallery_is_listed_then_it_is_empty(api):
    assert api("GET", "/api/gallery") == (200, {"items": [], "nextToken": None})


def test_given_completed_cells_when_the_gallery_is_paged_then_newest_first_and_owner_only(api):
    from marketplace.repository import get_repository

    repo = get_repository()
    _, created = create(api, autoColorize=False)
    batch_id = created["batchId"]
    for angle in ("front_0", "side_90"):
        repo.complete_cell(repo.get_cell(batch_id, angle, None), "dealer-1", f"k/{angle}.png", f"k/{angle}.t.png")
    status, page1 = api("GET", "/api/gallery", query={"limit": "1"})
    assert status == 200 and [i["angleKey"] for i in page1["items"]] == ["side_90"]
    _, page2 = api("GET", "/api/gallery", query={"limit": "1", "nextToken": page1["nextToken"]})
    assert [i["angleKey"] for i in page2["items"]] == ["front_0"]
    assert api("GET", "/api/gallery", user="dealer-2")[1]["items"] == []
    status, stolen = api("GET", "/api/gallery", user="dealer-2", query={"nextToken": page1["nextToken"]})
    assert status == 422 and stolen["error"]["field"] == "nextToken"
    assert api("GET", "/api/gallery", query={"limit": "0"})[0] == 422


def test_given_a_bad_dev_user_header_when_calling_then_422(api):
    status, body = api("GET", f"{BASE}/presets", user="bad user!")
    assert status == 422 and body["error"]["field"] == "X-Dev-User"


def test_given_production_mode_without_a_jwt_when_calling_then_401(api, monkeypatch):
    from marketplace.config import get_settings

    monkeypatch.setenv("DEV_MODE", "false")
    get_settings.cache_clear()
    status, body = api("GET", f"{BASE}/presets")
    assert status == 401 and body["error"]["field"] == "Authorization"


def test_given_a_30_by_40_request_when_creating_then_1230_cells_are_accepted(api, presets_folder, monkeypatch):
    from tests.support.presets_factory import write_large_presets

    write_large_presets(presets_folder, angles=30, colors=40)
    from marketplace.presets import reset_presets_cache

    reset_presets_cache()
    angles = [f"angle_{i:02d}" for i in range(30)]
    colors = [f"color_{i:02d}" for i in range(40)]
    status, body = create(api, angles=angles, colors=colors)
    assert status == 202 and body["totalJobs"] == 1230
    from marketplace.repository import get_repository

    assert len(get_repository().list_cells(body["batchId"])) == 1230


def test_given_the_resolver_when_the_openapi_document_is_served_then_it_lists_the_routes(api):
    status, body = api("GET", "/api/openapi.json")
    assert status == 200
    assert f"{BASE}/batch" in body["paths"] and "/api/gallery" in body["paths"]


def _upload(api, data: bytes | None, content_type: str = "image/jpeg") -> str:
    import requests as _requests  # noqa: F401 - moto intercepts boto3 only; put through boto3 below

    status, body = api("POST", f"{BASE}/uploads", {"files": [{"filename": "x", "contentType": content_type,
                                                                "size": len(data or b"x")}]})
    assert status == 200
    url = body["uploads"][0]["sourceImageUrl"]
    if data is not None:
        from urllib.parse import unquote, urlsplit

        key = unquote(urlsplit(url).path).split("/", 2)[2]
        boto3.client("s3").put_object(Bucket="marketplace-test-assets", Key=key, Body=data)
    return url


def test_given_an_uploaded_jpeg_when_creating_then_its_own_upload_url_is_accepted(api):
    url = _upload(api, b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    status, body = api("POST", f"{BASE}/batch", {"sourceImageUrls": [url], "angles": ["front_0"]})
    assert status == 202, body


@pytest.mark.parametrize(("data", "message"), [(None, "upload not found"), (b"MZ\x90\x00 not an image", "not a JPEG")])
def test_given_a_missing_or_fake_upload_when_creating_then_422_names_it(api, data, message):
    url = _upload(api, data)
    status, body = api("POST", f"{BASE}/batch", {"sourceImageUrls": [url], "angles": ["front_0"]})
    assert status == 422 and body["error"]["field"] == "sourceImageUrls[0]"
    assert message in body["error"]["message"]
