"""The stand-in's Files API (through the official ``replicate`` client) and its remote mode
(``STANDIN_REMOTE=1``: inputs Replicate could not reach fail, no webhook is sent)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from standin_testkit import HOOK, FakeNetwork, angle_prompt, car_photo, colour_prompt, create, standin

from replicate_standin.files import FileRequestError, UnreachableInput, check_reachable, parse_upload
from replicate_standin.settings import StandinSettings

pytestmark = pytest.mark.unit
TOKEN = "r8_files_test_token"
PUBLIC_IP = "93.184.216.34"  # a public address; the fake network answers for it, no socket is opened


def _replicate(client: Any) -> Any:
    """The official client, speaking HTTP to the stand-in through the TestClient's transport."""
    import replicate

    return replicate.Client(api_token=TOKEN, base_url="http://testserver", transport=client._transport)


def _wait_terminal(client: Any, prediction_id: str, store: Any) -> dict[str, Any]:
    assert store.wait_idle(10)
    return client.get(f"/v1/predictions/{prediction_id}", headers=_auth()).json()


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def _report(client: Any) -> dict[str, Any]:
    return client.get("/_standin/files", headers=_auth()).json()


def test_given_png_bytes_when_the_official_client_uploads_them_then_the_file_has_replicates_shape_and_lifecycle():
    photo = car_photo(image_format="PNG")
    with standin(FakeNetwork(), api_token=TOKEN) as (client, _store):
        files = _replicate(client).files
        made = files.create(io.BytesIO(photo), filename="front.png", content_type="image/png", metadata={"cell": "a"})
        assert (made.name, made.content_type, made.size) == ("front.png", "image/png", len(photo))
        assert made.checksums == {"sha256": hashlib.sha256(photo).hexdigest(), "md5": hashlib.md5(photo).hexdigest()}
        assert made.etag == made.checksums["md5"] and made.metadata == {"cell": "a"}
        assert made.urls == {"get": f"http://testserver/v1/files/{made.id}"}
        created, expires = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (made.created_at, made.expires_at))
        assert expires - created == timedelta(hours=24)

        assert files.get(made.id).dict() == made.dict()
        assert [f.id for f in files.list()] == [made.id]
        assert client.get(f"/v1/files/{made.id}/download", headers=_auth()).content == photo
        assert files.delete(made.id) is True
        assert client.get(f"/v1/files/{made.id}", headers=_auth()).status_code == 404
        assert _report(client)["created"] == 1 and _report(client)["deleted"] == 1


def test_given_an_uploaded_file_when_its_url_is_a_prediction_input_then_the_model_reads_it_without_the_network():
    network = FakeNetwork()
    with standin(network, api_token=TOKEN, remote=True) as (client, store):
        url = _replicate(client).files.create(io.BytesIO(car_photo()), filename="side.jpg").urls["get"]
        created = client.post("/v1/models/google/nano-banana/predictions", headers=_auth(),
                              json={"input": {"prompt": angle_prompt(), "image_input": [url], "output_format": "png"}})
        final = _wait_terminal(client, created.json()["id"], store)
    assert final["status"] == "succeeded", final["error"]
    assert network.image_requests == []
    assert _report_after(store)["fetched_as_input"] == 1


def _report_after(store: Any) -> dict[str, Any]:
    return store.files.report()


def test_given_remote_mode_when_an_input_is_on_loopback_then_the_prediction_fails_and_nothing_is_fetched():
    network = FakeNetwork()
    with standin(network, remote=True) as (client, store):
        created = create(client, colour_prompt(), ["http://127.0.0.1:3200/bucket/angle.png?X-Amz-Signature=abc"])
        final = _wait_terminal(client, created.json()["id"], store)
    assert final["status"] == "failed"
    assert final["error"].startswith("Failed to download image from http://127.0.0.1:3200/bucket/angle.png:")
    assert "X-Amz-Signature" not in final["error"]
    assert store.files.report()["refused_inputs"] == 1


def test_given_remote_mode_when_a_public_input_redirects_to_a_private_address_then_the_hop_is_refused():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"location": "http://10.0.0.7/internal.jpg"})

    from starlette.testclient import TestClient

    from replicate_standin import create_app

    app = create_app(StandinSettings(latency_seconds=0.05, public_url="http://testserver", remote=True),
                     transport=httpx.MockTransport(handler))
    with TestClient(app) as client:
        created = create(client, angle_prompt(), [f"http://{PUBLIC_IP}/photo.jpg"])
        final = _wait_terminal(client, created.json()["id"], app.state.standin)
    assert final["status"] == "failed" and "10.0.0.7 is not a public address" in final["error"]
    assert seen == [f"http://{PUBLIC_IP}/photo.jpg"]  # the private hop was never requested


def test_given_the_local_mode_when_an_input_is_on_a_reachable_host_then_it_is_still_fetched():
    network = FakeNetwork()
    photo = network.add_image("front.jpg", car_photo())
    with standin(network) as (client, store):
        final = _wait_terminal(client, create(client, angle_prompt(), [photo]).json()["id"], store)
    assert final["status"] == "succeeded" and len(network.image_requests) == 1


def test_given_remote_mode_when_a_prediction_names_a_webhook_then_no_webhook_is_sent():
    network = FakeNetwork()
    with standin(network, api_token=TOKEN, remote=True) as (client, store):
        url = _replicate(client).files.create(io.BytesIO(car_photo()), filename="a.jpg").urls["get"]
        created = client.post("/v1/models/google/nano-banana/predictions", headers=_auth(), json={
            "input": {"prompt": angle_prompt(), "image_input": [url], "output_format": "png"},
            "webhook": HOOK, "webhook_events_filter": ["start", "completed"]})
        final = _wait_terminal(client, created.json()["id"], store)
    assert final["status"] == "succeeded"
    assert network.webhooks == [] and store.list_webhook_deliveries() == []
    assert store.files.report()["webhooks_not_sent"] == 2


def test_given_a_deleted_file_when_its_url_is_an_input_then_the_prediction_fails_naming_it():
    with standin(FakeNetwork(), api_token=TOKEN, remote=True) as (client, store):
        files = _replicate(client).files
        made = files.create(io.BytesIO(car_photo()), filename="a.jpg")
        files.delete(made.id)
        created = client.post("/v1/models/google/nano-banana/predictions", headers=_auth(),
                              json={"input": {"prompt": angle_prompt(), "image_input": [made.urls["get"]]}})
        final = _wait_terminal(client, created.json()["id"], store)
    assert final["status"] == "failed" and "no such file" in final["error"]


@pytest.mark.parametrize(
    ("headers", "body", "status", "field"),
    [
        ({"content-type": "application/json"}, b'{"content": "x"}', 400, None),
        ({"content-type": "multipart/form-data; boundary=b"}, b"--b\r\nContent-Disposition: form-data; name=\"type\""
                                                               b"\r\n\r\nimage/png\r\n--b--\r\n", 422, "content"),
        ({"content-type": "multipart/form-data; boundary=b"}, b"--b\r\nContent-Disposition: form-data; name=\"content\""
                                                               b"; filename=\"a\"\r\n\r\nxy\r\n--b\r\nContent-Disposition:"
                                                               b" form-data; name=\"metadata\"\r\n\r\n[1]\r\n--b--\r\n",
         422, "metadata"),
        ({"content-type": "multipart/form-data; boundary=b"}, b"--b\r\nContent-Disposition: form-data; name=\"content\"",
         400, None),
    ],
)
def test_given_a_malformed_upload_when_posted_then_a_clear_4xx_names_the_problem(headers, body, status, field):
    with standin(FakeNetwork(), api_token=TOKEN) as (client, _store):
        answer = client.post("/v1/files", headers={**_auth(), **headers}, content=body)
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["status"] == status and problem["detail"]
    if field:
        assert problem["invalid_fields"][0]["field"] == field


def test_given_a_file_over_the_limit_when_uploaded_then_413_and_nothing_is_kept():
    with standin(FakeNetwork(), api_token=TOKEN, max_input_bytes=1000) as (client, store):
        answer = client.post("/v1/files", headers=_auth(), files={"content": ("big.png", b"x" * 1001, "image/png")})
        far_over = client.post("/v1/files", headers=_auth(), files={"content": ("big.png", b"x" * 200_000, "image/png")})
    assert answer.status_code == 413 and far_over.status_code == 413
    assert store.files.report()["files"] == 0


def test_given_no_token_when_the_files_api_is_called_then_401():
    with standin(FakeNetwork(), api_token=TOKEN) as (client, _store):
        assert client.post("/v1/files", files={"content": ("a", b"x")}).status_code == 401
        assert client.get("/_standin/files").status_code == 401


def test_given_binary_content_with_crlf_and_dashes_when_parsed_then_every_byte_survives():
    content = os.urandom(4096) + b"\r\n--\r\n\r\n--b\r\n" + os.urandom(512)
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"content\"; filename=\"p.png\"\r\n"
            b"Content-Type: image/png\r\n\r\n" + content + b"\r\n--XyZ--\r\n")
    upload = parse_upload("multipart/form-data; boundary=XyZ", body)
    assert (upload.content, upload.filename, upload.content_type) == (content, "p.png", "image/png")
    with pytest.raises(FileRequestError):
        parse_upload("multipart/form-data", body)  # no boundary


@pytest.mark.parametrize("url", ["http://127.0.0.1/a", "http://10.1.2.3/a", "http://169.254.169.254/latest",
                                 "http://[::1]/a", "http://[::ffff:192.168.0.1]/a", "http://localhost/a",
                                 "file:///etc/passwd", "http://0.0.0.0/a"])
def test_given_an_address_a_remote_service_cannot_reach_when_checked_then_it_is_refused(url):
    with pytest.raises(UnreachableInput):
        asyncio.run(check_reachable(url))


def test_given_a_public_ip_when_checked_then_it_passes():
    asyncio.run(check_reachable(f"https://{PUBLIC_IP}/photo.jpg"))


def test_given_standin_remote_in_the_environment_when_settings_are_read_then_remote_mode_is_on():
    assert StandinSettings.from_env({"STANDIN_REMOTE": "1"}).remote is True
    assert StandinSettings.from_env({}).remote is False
    with pytest.raises(ValueError, match="STANDIN_REMOTE"):
        StandinSettings.from_env({"STANDIN_REMOTE": "maybe"})
