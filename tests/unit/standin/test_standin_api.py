"""The stand-in's HTTP API through starlette's TestClient; the network is a FakeNetwork."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image
from standin_testkit import (
    HOOK,
    MODEL_PATH,
    FakeNetwork,
    angle_prompt,
    car_photo,
    colour_counts,
    colour_prompt,
    create,
    data_uri,
    standin,
)

from replicate_standin import model
from replicate_standin.store import FAULT_ERROR, MODELS

pytestmark = pytest.mark.unit


@pytest.fixture
def network() -> FakeNetwork:
    return FakeNetwork()


def test_given_a_valid_request_when_created_then_201_with_replicate_fields_and_status_starting(network: FakeNetwork):
    photo = network.add_image("front.jpg", car_photo())
    with standin(network, latency_seconds=5) as (client, _store):
        response = create(client, "angle: front", [photo], webhook=HOOK, webhook_events_filter=["start", "completed"])
    assert response.status_code == 201
    body = response.json()
    assert len(body["id"]) == 26 and body["id"].isalnum() and body["id"].islower()
    assert body["model"] == "google/nano-banana" and body["version"] == MODELS["google/nano-banana"]
    assert body["status"] == "starting"
    assert body["input"] == {"prompt": "angle: front", "output_format": "png", "image_input": [photo]}
    assert body["output"] is None and body["error"] is None and body["data_removed"] is False
    assert body["created_at"].endswith("Z") and body["started_at"] is None and body["completed_at"] is None
    assert body["urls"] == {
        "get": f"http://testserver/v1/predictions/{body['id']}",
        "cancel": f"http://testserver/v1/predictions/{body['id']}/cancel",
    }
    assert body["webhook"] == HOOK and body["webhook_events_filter"] == ["start", "completed"]


def test_given_a_created_prediction_when_it_finishes_then_get_shows_succeeded_with_one_png_url(network: FakeNetwork):
    photos = [network.add_image(f"{i}.jpg", car_photo(size=(900 + 50 * i, 700))) for i in range(3)]
    with standin(network) as (client, store):
        created = create(client, angle_prompt(), photos).json()
        assert store.wait_idle(10)
        body = client.get(f"/v1/predictions/{created['id']}").json()
        assert body["status"] == "succeeded"
        assert body["output"] == f"http://testserver/delivery/{created['id']}/output.png"
        assert body["started_at"] and body["completed_at"] and body["metrics"]["predict_time"] >= 0
        assert body["metrics"]["image_count"] == 1
        image = client.get(body["output"].removeprefix("http://testserver"))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(image.content)).size == (model.WIDTH, model.HEIGHT)
    assert sorted(network.image_requests) == sorted(photos)


def test_given_an_angle_output_when_fed_to_a_red_colour_job_then_the_car_body_comes_back_red(network: FakeNetwork):
    photo = network.add_image("car.jpg", car_photo())
    with standin(network) as (client, store):
        angle = create(client, angle_prompt(), [photo]).json()
        assert store.wait_idle(10)
        angle_url = client.get(f"/v1/predictions/{angle['id']}").json()["output"]
        network.images["/angle.png"] = client.get(angle_url.removeprefix("http://testserver")).content
        colour = create(client, colour_prompt("Red #C00000 (metallic)"), ["http://images.test/angle.png"]).json()
        assert store.wait_idle(10)
        done = client.get(f"/v1/predictions/{colour['id']}").json()
        png = client.get(done["output"].removeprefix("http://testserver")).content
    counts = colour_counts(png)
    assert Image.open(io.BytesIO(png)).size == (model.WIDTH, model.HEIGHT)
    assert counts["red"] > 0.05 and counts["blue"] < counts["red"] / 20
    assert "color" in done["logs"]


def test_given_a_data_uri_input_when_created_then_it_is_used_without_any_download(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: rear", [data_uri(car_photo(image_format="PNG"))]).json()
        assert store.wait_idle(10)
        assert client.get(f"/v1/predictions/{created['id']}").json()["status"] == "succeeded"
    assert network.image_requests == []


def test_given_an_unreachable_image_when_processed_then_the_prediction_fails_with_a_download_error(
    network: FakeNetwork,
):
    with standin(network) as (client, store):
        created = create(client, "angle: front", ["http://images.test/missing.jpg?X-Amz-Signature=secret"]).json()
        assert store.wait_idle(10)
        body = client.get(f"/v1/predictions/{created['id']}").json()
    assert body["status"] == "failed" and body["output"] is None
    assert body["error"] == "Failed to download image from http://images.test/missing.jpg: HTTP 404"
    assert "secret" not in body["error"]


def test_given_a_host_that_refuses_when_processed_then_the_error_names_the_connection_failure(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: front", ["http://nowhere.test/a.jpg"]).json()
        assert store.wait_idle(10)
        error = client.get(f"/v1/predictions/{created['id']}").json()["error"]
    assert error.startswith("Failed to download image from http://nowhere.test/a.jpg: ConnectError")


def test_given_an_unknown_model_when_created_then_404_with_a_detail(network: FakeNetwork):
    with standin(network) as (client, _store):
        response = client.post("/v1/models/acme/imaginary/predictions", json={"input": {"prompt": "x"}})
    assert response.status_code == 404
    assert response.json()["detail"] == "The requested model acme/imaginary could not be found."


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "(root)"),
        ({"input": "prompt"}, "input"),
        ({"input": {}}, "input"),
        ({"input": {"prompt": 3}}, "input.prompt"),
        ({"input": {"prompt": "  "}}, "input.prompt"),
        ({"input": {"prompt": "x", "image_input": "http://a/b.jpg"}}, "input.image_input"),
        ({"input": {"prompt": "x", "image_input": ["ftp://a/b.jpg"]}}, "input.image_input.0"),
        ({"input": {"prompt": "x", "image_input": ["http://a/b.jpg", 7]}}, "input.image_input.1"),
        ({"input": {"prompt": "x", "output_format": "webp"}}, "input.output_format"),
        ({"input": {"prompt": "x"}, "webhook": "not a url"}, "webhook"),
        ({"input": {"prompt": "x"}, "webhook": HOOK, "webhook_events_filter": ["done"]}, "webhook_events_filter.0"),
        ({"input": {"prompt": "x"}, "webhook": HOOK, "webhook_events_filter": "start"}, "webhook_events_filter"),
    ],
)
def test_given_invalid_input_when_created_then_422_names_the_field(network: FakeNetwork, body: dict, field: str):
    with standin(network) as (client, store):
        response = client.post(MODEL_PATH, json=body)
        assert store.list_predictions() == []
    assert response.status_code == 422
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Input validation failed"
    assert field in [f["field"] for f in problem["invalid_fields"]]
    assert f"- {field}:" in problem["detail"]


def test_given_malformed_json_when_created_then_400(network: FakeNetwork):
    with standin(network) as (client, _store):
        response = client.post(MODEL_PATH, content=b"{nope", headers={"content-type": "application/json"})
    assert response.status_code == 400 and "Invalid JSON" in response.json()["detail"]


def test_given_the_version_route_when_created_with_the_model_name_then_it_works_like_the_model_route(
    network: FakeNetwork,
):
    with standin(network, latency_seconds=5) as (client, _store):
        by_name = client.post("/v1/predictions", json={"version": "google/nano-banana", "input": {"prompt": "x"}})
        by_id = client.post("/v1/predictions", json={"version": MODELS["google/nano-banana"], "input": {"prompt": "x"}})
        unknown = client.post("/v1/predictions", json={"version": "acme/x:123", "input": {"prompt": "x"}})
        missing = client.post("/v1/predictions", json={"input": {"prompt": "x"}})
    assert by_name.status_code == by_id.status_code == 201
    assert by_name.json()["model"] == "google/nano-banana"
    assert unknown.status_code == 404 and missing.status_code == 422


def test_given_an_unknown_id_when_read_or_canceled_then_404(network: FakeNetwork):
    with standin(network) as (client, _store):
        assert client.get("/v1/predictions/doesnotexist").status_code == 404
        assert client.post("/v1/predictions/doesnotexist/cancel").status_code == 404
        assert client.get("/delivery/doesnotexist/output.png").status_code == 404
        assert client.get("/v1/nothing/here").json()["status"] == 404


def test_given_a_token_when_requests_lack_it_then_401_and_with_bearer_or_token_they_pass(network: FakeNetwork):
    with standin(network, api_token="r8_secret", latency_seconds=5) as (client, _store):
        assert client.get("/v1/predictions").status_code == 401
        assert client.get("/v1/predictions", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/v1/webhooks/default/secret").status_code == 401
        assert client.get("/v1/predictions", headers={"Authorization": "Bearer r8_secret"}).status_code == 200
        assert client.get("/v1/predictions", headers={"Authorization": "Token r8_secret"}).status_code == 200
        unauthorised = client.post(MODEL_PATH, json={"input": {"prompt": "x"}})
        assert unauthorised.status_code == 401 and unauthorised.json()["detail"]
        assert client.get("/health").status_code == 200


def test_given_a_configured_secret_when_read_then_the_route_returns_it(network: FakeNetwork):
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    with standin(network, webhook_secret=secret) as (client, store):
        assert client.get("/v1/webhooks/default/secret").json() == {"key": secret}
        assert store.webhook_secret == secret


def test_given_no_configured_secret_when_the_app_starts_then_a_random_whsec_is_generated(network: FakeNetwork):
    with standin(network) as (client, _store):
        key = client.get("/v1/webhooks/default/secret").json()["key"]
    with standin(network) as (client, _store):
        other = client.get("/v1/webhooks/default/secret").json()["key"]
    assert key.startswith("whsec_") and other.startswith("whsec_") and key != other


def test_given_a_running_prediction_when_canceled_then_canceled_and_the_completed_webhook_says_so(network: FakeNetwork):
    with standin(network, latency_seconds=5) as (client, store):
        created = create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"]).json()
        canceled = client.post(f"/v1/predictions/{created['id']}/cancel").json()
        assert canceled["status"] == "canceled" and canceled["completed_at"]
        assert store.wait_idle(5)
        again = client.post(f"/v1/predictions/{created['id']}/cancel").json()
    assert again["status"] == "canceled" and again["completed_at"] == canceled["completed_at"]
    hooks = network.hooks_for(created["id"])
    assert [h.payload["status"] for h in hooks] == ["canceled"]


def test_given_a_finished_prediction_when_canceled_then_it_stays_succeeded_and_no_new_webhook(network: FakeNetwork):
    with standin(network) as (client, store):
        created = create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"]).json()
        assert store.wait_idle(5)
        after = client.post(f"/v1/predictions/{created['id']}/cancel").json()
        assert store.wait_idle(5)
    assert after["status"] == "succeeded"
    assert len(network.hooks_for(created["id"])) == 1


def test_given_a_short_ttl_when_it_passes_then_the_output_answers_404_and_data_removed_is_true(network: FakeNetwork):
    with standin(network, output_ttl_seconds=0.4) as (client, store):
        created = create(client, "angle: x", []).json()
        assert store.wait_idle(5)
        path = f"/delivery/{created['id']}/output.png"
        assert client.get(path).status_code == 200
        assert client.get(f"/v1/predictions/{created['id']}").json()["data_removed"] is False
        time.sleep(0.5)
        assert client.get(path).status_code == 404
        assert client.get(f"/v1/predictions/{created['id']}").json()["data_removed"] is True


def test_given_a_jpg_output_format_when_finished_then_the_output_is_a_jpeg_url(network: FakeNetwork):
    with standin(network) as (client, store):
        created = client.post(MODEL_PATH, json={"input": {"prompt": "angle: x", "output_format": "jpg"}}).json()
        assert store.wait_idle(5)
        url = client.get(f"/v1/predictions/{created['id']}").json()["output"]
        response = client.get(url.removeprefix("http://testserver"))
    assert url.endswith("/output.jpg") and response.headers["content-type"] == "image/jpeg"


def test_given_no_output_format_when_finished_then_the_output_is_a_jpeg_like_the_real_model(network: FakeNetwork):
    with standin(network) as (client, store):
        created = client.post(MODEL_PATH, json={"input": {"prompt": "angle: x"}}).json()
        assert store.wait_idle(5)
        url = client.get(f"/v1/predictions/{created['id']}").json()["output"]
        data = client.get(url.removeprefix("http://testserver")).content
    assert url.endswith("/output.jpg") and data[:3] == b"\xff\xd8\xff"
    assert created["input"] == {"prompt": "angle: x"}  # the input is echoed as sent


def test_given_prefer_wait_when_created_then_the_answer_is_already_terminal(network: FakeNetwork):
    with standin(network, latency_seconds=0.1) as (client, _store):
        response = client.post(MODEL_PATH, json={"input": {"prompt": "angle: x"}}, headers={"Prefer": "wait=5"})
    assert response.status_code == 201 and response.json()["status"] == "succeeded"


def test_given_the_fail_fault_when_processed_then_failed_with_a_replicate_like_error(network: FakeNetwork):
    with standin(network, faults={"fail": 1.0}) as (client, store):
        created = create(client, "angle: x", [], webhook=HOOK, webhook_events_filter=["completed"]).json()
        assert store.wait_idle(5)
        body = client.get(f"/v1/predictions/{created['id']}").json()
    assert body["status"] == "failed" and body["error"] == FAULT_ERROR and body["output"] is None
    assert [h.payload["status"] for h in network.hooks_for(created["id"])] == ["failed"]


def test_given_the_ratelimit_fault_when_created_then_429_with_retry_after_and_nothing_is_created(network: FakeNetwork):
    with standin(network, faults={"ratelimit": 1.0}) as (client, store):
        response = create(client, "angle: x", [])
        assert store.list_predictions() == []
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["status"] == 429 and "throttled" in response.json()["detail"]


def test_given_the_slow_fault_when_the_output_is_downloaded_then_it_takes_the_slow_delay(network: FakeNetwork):
    with standin(network, faults={"slow": 1.0}, slow_seconds=0.3) as (client, store):
        created = create(client, "angle: x", []).json()
        assert store.wait_idle(5)
        started = time.monotonic()
        response = client.get(f"/delivery/{created['id']}/output.png")
        elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed >= 0.3


def test_given_the_same_seed_when_two_stand_ins_draw_faults_then_they_draw_the_same_sequence(network: FakeNetwork):
    def draw() -> list[frozenset[str]]:
        with standin(network, seed=1234, latency_seconds=5, faults={"fail": 0.5, "drop": 0.5, "slow": 0.5}) as (
            client,
            store,
        ):
            ids = [create(client, "angle: x", []).json()["id"] for _ in range(12)]
            return [store.prediction_faults(i) for i in ids]

    first, second = draw(), draw()
    assert first == second
    assert len(set(first)) > 1


def test_given_faults_changed_at_runtime_when_created_then_new_predictions_use_them(network: FakeNetwork):
    with standin(network, latency_seconds=5) as (client, store):
        store.set_faults({"ratelimit": 1.0})
        assert create(client, "angle: x", []).status_code == 429
        store.set_faults({})
        assert create(client, "angle: x", []).status_code == 201
        with pytest.raises(ValueError, match="unknown fault"):
            store.set_faults({"boom": 1.0})


def test_given_finished_predictions_then_their_outputs_wait_on_disk_not_in_memory_until_the_store_closes(
    network: FakeNetwork,
):
    """A 30 x 40 batch leaves 1,230 outputs for Replicate's hour: they used to sit in the
    stand-in's memory (about 60 MB); now each is a file, read when it is downloaded."""
    with standin(network) as (client, store):
        created = [create(client, f"angle: x{i}", []).json() for i in range(3)]
        assert store.wait_idle(5)
        paths = [store._predictions[c["id"]].output_path for c in created]
        assert all(path is not None and path.stat().st_size > 1000 for path in paths)
        for item, path in zip(created, paths, strict=True):
            served = client.get(f"/delivery/{item['id']}/output.png")
            assert served.status_code == 200 and served.content == path.read_bytes()  # type: ignore[union-attr]
            Image.open(io.BytesIO(served.content)).verify()
        assert not any(isinstance(v, bytes) for p in store._predictions.values() for v in vars(p).values())
    assert not any(path.exists() for path in paths)  # type: ignore[union-attr]
