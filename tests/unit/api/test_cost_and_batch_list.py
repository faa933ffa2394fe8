"""Cost, estimates, colourise-later of every finished angle, the batch list and the gallery by
batch: the HTTP API handler against moto, the sample CSVs over HTTP."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from tests.support.lambda_events import FakeContext, answer_json, http_event, load_function

pytestmark = pytest.mark.unit
BASE = "/api/car/marketplace"
SOURCES = ["https://images.example.com/a.jpg"]


@pytest.fixture
def api(ws_posts: Any, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr("marketplace.source_urls._resolve", lambda host: ["93.184.216.34"])
    module = load_function("api")

    def call(method: str, path: str, body: Any = None, user: str = "dealer-1", headers: dict | None = None,
             **kw: Any) -> tuple[int, Any]:
        event = http_event(method, path, body, {"x-dev-user": user, **(headers or {})}, **kw)
        answer = module.lambda_handler(event, FakeContext())
        return answer["statusCode"], answer_json(answer)

    return call


def create(api, user: str = "dealer-1", **overrides: Any) -> dict[str, Any]:
    body = {"sourceImageUrls": SOURCES, "angles": ["front_0", "side_90"], "colors": ["red_metallic", "blue_metallic"]}
    status, answer = api("POST", f"{BASE}/batch", {**body, **overrides}, user=user)
    assert status == 202, answer
    time.sleep(0.002)  # batches are ordered by their creation time (milliseconds)
    return answer


def repo() -> Any:
    from marketplace.repository import get_repository

    return get_repository()


def run(batch_id: str, angle: str, color: str | None = None) -> Any:
    """A prediction is created for the cell (as RunPrediction records it)."""
    cell = repo().get_cell(batch_id, angle, color)
    return repo().record_prediction(cell, f"pred-{angle}-{color}-{time.monotonic_ns()}", "token", ["in"])


def finish(batch_id: str, angle: str, color: str | None = None, owner: str = "dealer-1") -> None:
    cell = run(batch_id, angle, color)
    name = f"batches/{batch_id}/{angle}/{color or 'angle'}"
    assert repo().complete_cell(cell, owner, f"{name}.png", f"{name}.thumb.png") is not None


def fail(batch_id: str, angle: str, color: str | None = None) -> None:
    run(batch_id, angle, color)
    assert repo().fail_cell(batch_id, angle, color, "PredictionFailed") is not None


def snapshot(api, batch_id: str, user: str = "dealer-1") -> tuple[int, Any]:
    return api("GET", f"{BASE}/batch/{batch_id}", user=user, route_key=f"GET {BASE}/batch/{{batchId}}",
               path_parameters={"batchId": batch_id})


# -- pricing and estimates ----------------------------------------------------------------------


def test_given_the_default_price_when_presets_are_read_then_pricing_is_nano_bananas_in_usd(api):
    status, body = api("GET", f"{BASE}/presets")
    assert status == 200
    assert body["pricing"] == {"pricePerImageUsd": 0.039, "currency": "USD"}


def test_given_another_price_in_the_environment_when_presets_are_read_then_that_price_is_served(api, monkeypatch):
    from marketplace.config import get_settings

    monkeypatch.setenv("PRICE_PER_IMAGE_USD", "0.05")
    get_settings.cache_clear()
    assert api("GET", f"{BASE}/presets")[1]["pricing"]["pricePerImageUsd"] == 0.05
    assert create(api)["estimate"] == {"images": 6, "costUsd": 0.3}


@pytest.mark.parametrize(("auto", "estimate"), [(True, {"images": 6, "costUsd": 0.23}),
                                                 (False, {"images": 2, "costUsd": 0.08})])
def test_given_a_batch_request_when_created_then_the_estimate_counts_one_image_per_cell(api, auto, estimate):
    answer = create(api, autoColorize=auto)
    assert answer["estimate"] == estimate
    assert answer["estimate"]["images"] == answer["totalJobs"]


def test_given_an_idempotent_retry_when_the_answer_is_replayed_then_it_still_carries_the_estimate(api):
    body = {"sourceImageUrls": SOURCES, "angles": ["front_0"], "colors": ["red_metallic"]}
    first = api("POST", f"{BASE}/batch", body, headers={"idempotency-key": "k-1"})
    replayed = api("POST", f"{BASE}/batch", body, headers={"idempotency-key": "k-1"})
    assert first[0] == replayed[0] == 202 and replayed[1]["batchId"] == first[1]["batchId"]
    assert first[1]["estimate"] == replayed[1]["estimate"] == {"images": 2, "costUsd": 0.08}


# -- colourise later, all at once ---------------------------------------------------------------


def test_given_every_angle_finished_when_colorize_names_no_angles_then_every_finished_angle_gets_the_colours(api):
    batch_id = create(api, autoColorize=False)["batchId"]
    finish(batch_id, "front_0")
    finish(batch_id, "side_90")
    status, answer = api("POST", f"{BASE}/batch/{batch_id}/colorize", {"colors": ["red_metallic", "blue_metallic"]})
    assert status == 202, answer
    assert answer["createdJobs"] == 4 and answer["totalJobs"] == 6
    assert answer["estimate"] == {"images": 4, "costUsd": 0.16}
    colour_cells = {(c.angleKey, c.colorKey) for c in repo().list_cells(batch_id) if c.colorKey}
    assert colour_cells == {(a, c) for a in ("front_0", "side_90") for c in ("red_metallic", "blue_metallic")}


def test_given_colours_already_made_when_colorized_again_then_the_estimate_is_zero(api):
    batch_id = create(api, autoColorize=False, angles=["front_0"])["batchId"]
    finish(batch_id, "front_0")
    api("POST", f"{BASE}/batch/{batch_id}/colorize", {"colors": ["red_metallic"]})
    status, again = api("POST", f"{BASE}/batch/{batch_id}/colorize", {"colors": ["red_metallic"]})
    assert status == 202 and again["createdJobs"] == 0
    assert again["estimate"] == {"images": 0, "costUsd": 0.0}


def test_given_the_openapi_document_when_read_then_colorize_says_absent_angles_means_every_finished_angle(api):
    document = api("GET", "/api/openapi.json")[1]
    angles = document["components"]["schemas"]["ColorizeRequest"]["properties"]["angles"]
    assert "every finished angle" in angles["description"]


# -- the snapshot's cost ------------------------------------------------------------------------


def test_given_a_fresh_batch_when_its_snapshot_is_read_then_it_has_cost_nothing(api):
    batch_id = create(api)["batchId"]
    status, body = snapshot(api, batch_id)
    assert status == 200
    assert body["cost"] == {"predictions": 0, "billedImages": 0, "costUsd": 0.0}


def test_given_completed_and_failed_cells_when_the_snapshot_is_read_then_only_succeeded_images_are_billed(api):
    batch_id = create(api)["batchId"]
    finish(batch_id, "front_0")
    finish(batch_id, "front_0", "red_metallic")
    fail(batch_id, "side_90")
    run(batch_id, "front_0", "blue_metallic")  # still running: created, not billed yet
    body = snapshot(api, batch_id)[1]
    assert body["cost"] == {"predictions": 4, "billedImages": 2, "costUsd": 0.08}


def test_given_a_completion_when_its_cell_is_read_then_the_completing_write_counted_the_image(api):
    batch_id = create(api, autoColorize=False, angles=["front_0"])["batchId"]
    finish(batch_id, "front_0")
    cell = repo().get_cell(batch_id, "front_0", None)
    assert (cell.imageCount, cell.predictionCount) == (1, 1)
    assert repo().complete_cell(cell, "dealer-1", "again.png", "again.thumb.png") is None  # a duplicate delivery
    assert repo().get_cell(batch_id, "front_0", None).imageCount == 1


def test_given_a_cell_completed_before_the_counter_existed_when_costed_then_its_image_counts_once(api):
    from marketplace import keys
    from marketplace.config import get_settings

    batch_id = create(api, autoColorize=False, angles=["front_0"])["batchId"]
    finish(batch_id, "front_0")
    boto3.client("dynamodb").update_item(TableName=get_settings().table_name,
                                         Key=keys.cell_key(batch_id, "front_0", None), UpdateExpression="REMOVE imageCount")
    assert snapshot(api, batch_id)[1]["cost"]["billedImages"] == 1


def test_given_another_users_batch_when_its_snapshot_is_read_then_404_and_no_cost_leaks(api):
    batch_id = create(api)["batchId"]
    status, body = snapshot(api, batch_id, user="dealer-2")
    assert status == 404 and "cost" not in body


# -- the batch list ------------------------------------------------------------------------------


def test_given_no_batches_when_listed_then_the_page_is_empty(api):
    assert api("GET", f"{BASE}/batches") == (200, {"items": [], "nextToken": None})


def test_given_three_batches_when_listed_two_at_a_time_then_newest_first_across_pages(api):
    ids = [create(api)["batchId"] for _ in range(3)]
    status, first = api("GET", f"{BASE}/batches", query={"limit": "2"})
    assert status == 200
    assert [i["batchId"] for i in first["items"]] == [ids[2], ids[1]] and first["nextToken"]
    status, second = api("GET", f"{BASE}/batches", query={"limit": "2", "nextToken": first["nextToken"]})
    assert status == 200
    assert [i["batchId"] for i in second["items"]] == [ids[0]]
    assert second["nextToken"] is None


def test_given_a_running_batch_when_listed_then_counts_status_cost_and_thumbnail_come_back(api):
    batch_id = create(api)["batchId"]
    finish(batch_id, "side_90")
    finish(batch_id, "side_90", "red_metallic")
    fail(batch_id, "front_0")
    (item,) = api("GET", f"{BASE}/batches")[1]["items"]
    assert item["batchId"] == batch_id and item["status"] == "running"
    assert item["createdAt"] == repo().get_batch(batch_id).createdAt
    assert item["counts"] == {"completed": 2, "failed": 1, "canceled": 0, "pending": 3}
    assert item["cost"] == {"predictions": 3, "billedImages": 2, "costUsd": 0.08}
    # front_0 failed: the first image in matrix order is side_90's own.
    assert f"batches/{batch_id}/side_90/angle.thumb.png" in item["thumbUrl"]


def test_given_no_image_yet_when_listed_then_the_thumbnail_is_null(api):
    create(api)
    (item,) = api("GET", f"{BASE}/batches")[1]["items"]
    assert item["thumbUrl"] is None
    assert item["counts"] == {"completed": 0, "failed": 0, "canceled": 0, "pending": 6}


def test_given_a_stopped_batch_when_listed_then_its_status_and_canceled_count_are_read_from_the_row(api):
    from marketplace import keys
    from marketplace.config import get_settings

    batch_id = create(api)["batchId"]
    finish(batch_id, "front_0")
    boto3.client("dynamodb").update_item(
        TableName=get_settings().table_name, Key=keys.batch_key(batch_id),
        UpdateExpression="SET #status = :canceled, canceledJobs = :five",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":canceled": {"S": "canceled"}, ":five": {"N": "5"}})
    (item,) = api("GET", f"{BASE}/batches")[1]["items"]
    assert item["status"] == "canceled"
    assert item["counts"] == {"completed": 1, "failed": 0, "canceled": 5, "pending": 0}


def test_given_two_owners_when_each_lists_then_each_sees_only_their_own_and_tokens_do_not_cross(api):
    mine = [create(api)["batchId"] for _ in range(2)]
    theirs = create(api, user="dealer-2")["batchId"]
    assert [i["batchId"] for i in api("GET", f"{BASE}/batches", user="dealer-2")[1]["items"]] == [theirs]
    page = api("GET", f"{BASE}/batches", query={"limit": "1"})[1]
    assert page["items"][0]["batchId"] == mine[1]
    status, stolen = api("GET", f"{BASE}/batches", user="dealer-2", query={"nextToken": page["nextToken"]})
    assert status == 422 and stolen["error"]["field"] == "nextToken"


def test_given_a_gallery_token_when_used_for_the_batch_list_then_422_names_next_token(api):
    batch_id = create(api, autoColorize=False)["batchId"]
    finish(batch_id, "front_0")
    finish(batch_id, "side_90")
    gallery_token = api("GET", "/api/gallery", query={"limit": "1"})[1]["nextToken"]
    status, body = api("GET", f"{BASE}/batches", query={"nextToken": gallery_token})
    assert status == 422 and body["error"]["field"] == "nextToken"


@pytest.mark.parametrize(("query", "field"), [({"limit": "0"}, "limit"), ({"limit": "51"}, "limit"),
                                              ({"limit": "many"}, "limit"), ({"nextToken": "not-a-token"}, "nextToken"),
                                              ({"nextToken": "x" * 2049}, "nextToken")])
def test_given_bad_paging_when_batches_are_listed_then_422_names_the_field(api, query, field):
    status, body = api("GET", f"{BASE}/batches", query=query)
    assert status == 422, body
    assert body["error"]["field"] == field


# -- the gallery by batch ------------------------------------------------------------------------


def test_given_two_batches_when_the_gallery_is_filtered_by_one_then_only_its_images_come_newest_first(api):
    first = create(api, autoColorize=False)["batchId"]
    second = create(api, autoColorize=False)["batchId"]
    finish(first, "front_0")
    finish(second, "front_0")
    finish(first, "side_90")
    finish(second, "side_90")
    status, page = api("GET", "/api/gallery", query={"batchId": first})
    assert status == 200
    assert [(i["batchId"], i["angleKey"]) for i in page["items"]] == [(first, "side_90"), (first, "front_0")]
    assert page["nextToken"] is None
    assert len(api("GET", "/api/gallery")[1]["items"]) == 4


def test_given_a_filtered_gallery_when_paged_one_at_a_time_then_every_image_of_the_batch_comes_once(api):
    first = create(api, autoColorize=False)["batchId"]
    other = create(api, autoColorize=False)["batchId"]
    for angle in ("front_0", "side_90"):
        finish(first, angle)
        finish(other, angle)
    seen: list[str] = []
    token: str | None = None
    for _ in range(5):
        query = {"batchId": first, "limit": "1", **({"nextToken": token} if token else {})}
        status, page = api("GET", "/api/gallery", query=query)
        assert status == 200 and len(page["items"]) <= 1
        seen += [i["angleKey"] for i in page["items"] if i["batchId"] == first]
        assert all(i["batchId"] == first for i in page["items"])
        token = page["nextToken"]
        if token is None:
            break
    assert seen == ["side_90", "front_0"]


def test_given_a_batch_without_images_when_the_gallery_is_filtered_then_the_page_is_empty(api):
    batch_id = create(api)["batchId"]
    assert api("GET", "/api/gallery", query={"batchId": batch_id}) == (200, {"items": [], "nextToken": None})


def test_given_another_users_batch_when_the_gallery_is_filtered_by_it_then_404_as_on_every_batch_route(api):
    batch_id = create(api, autoColorize=False)["batchId"]
    finish(batch_id, "front_0")
    status, body = api("GET", "/api/gallery", user="dealer-2", query={"batchId": batch_id})
    assert status == 404 and body["error"]["field"] == "batchId"
    assert api("GET", "/api/gallery", query={"batchId": "no-such-batch"})[0] == 404


def test_given_another_users_token_when_the_filtered_gallery_is_read_then_422_names_next_token(api):
    batch_id = create(api, autoColorize=False)["batchId"]
    finish(batch_id, "front_0")
    finish(batch_id, "side_90")
    token = api("GET", "/api/gallery", query={"limit": "1"})[1]["nextToken"]
    theirs = create(api, user="dealer-2", autoColorize=False)["batchId"]
    status, body = api("GET", "/api/gallery", user="dealer-2", query={"batchId": theirs, "nextToken": token})
    assert status == 422 and body["error"]["field"] == "nextToken"


@pytest.mark.parametrize("bad", ["has space", "x" * 81, "semi;colon", ""])
def test_given_a_malformed_batch_id_when_the_gallery_is_filtered_then_422_names_batch_id(api, bad):
    status, body = api("GET", "/api/gallery", query={"batchId": bad})
    assert status == 422, body
    assert body["error"]["field"] == "batchId"


def test_given_a_token_from_before_the_batch_began_when_filtering_then_the_page_is_empty_not_an_error(api):
    old = create(api, autoColorize=False)["batchId"]
    finish(old, "front_0")
    finish(old, "side_90")
    token = api("GET", "/api/gallery", query={"limit": "1"})[1]["nextToken"]  # points into `old`'s images
    from marketplace import keys
    from marketplace.config import get_settings

    new = create(api, autoColorize=False)["batchId"]
    # The new batch began long after: its creation time is moved forward past the token's key.
    boto3.client("dynamodb").update_item(
        TableName=get_settings().table_name, Key=keys.batch_key(new), UpdateExpression="SET createdAt = :later",
        ExpressionAttributeValues={":later": {"S": "2999-01-01T00:00:00.000Z"}})
    assert api("GET", "/api/gallery", query={"batchId": new, "nextToken": token}) == (200, {"items": [], "nextToken": None})


def test_given_the_openapi_document_when_read_then_the_batch_list_and_the_gallery_filter_are_in_it(api):
    document = api("GET", "/api/openapi.json")[1]
    assert "get" in document["paths"][f"{BASE}/batches"]
    parameters = {p["name"] for p in document["paths"]["/api/gallery"]["get"]["parameters"]}
    assert {"batchId", "limit", "nextToken"} <= parameters


# -- source photos for the page (the lightbox and the gallery by batch) -------------------------

def test_given_sources_as_given_when_the_snapshot_and_list_are_read_then_the_page_gets_them_to_show(api):
    batch_id = create(api)["batchId"]
    status, snap = snapshot(api, batch_id)
    assert status == 200 and snap["sourcePreviewUrls"] == SOURCES
    (item,) = api("GET", f"{BASE}/batches")[1]["items"]
    assert item["sourceUrl"] == SOURCES[0]


def test_given_an_own_upload_when_the_snapshot_is_read_then_its_preview_is_signed_anew_for_the_same_object(api):
    status, answer = api("POST", f"{BASE}/uploads", {"files": [{"filename": "car.jpg", "contentType": "image/jpeg", "size": 4}]})
    assert status == 200, answer
    url = answer["uploads"][0]["sourceImageUrl"]
    from marketplace.source_urls import own_upload_key

    key = own_upload_key(url)
    assert key is not None
    boto3.client("s3").put_object(Bucket=repo_bucket(), Key=key, Body=b"\xff\xd8\xff\xe0")
    batch_id = create(api, sourceImageUrls=[url])["batchId"]
    time.sleep(1.1)  # a new signing second: the URL differs from the stored one
    snap = snapshot(api, batch_id)[1]
    (preview,) = snap["sourcePreviewUrls"]
    assert own_upload_key(preview) == key and preview != url
    assert snap["sourceImageUrls"] == [url]
    (item,) = api("GET", f"{BASE}/batches")[1]["items"]
    assert own_upload_key(item["sourceUrl"]) == key


def repo_bucket() -> str:
    from marketplace.config import get_settings

    return get_settings().bucket_name
