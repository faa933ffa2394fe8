"""ApiClient: headers, bodies, presigned PUTs with exactly the returned headers, ApiError parsing."""

from __future__ import annotations

import httpx
import pytest
from cli_testkit import BASE, FakeApi

from marketplace_cli.client import ApiClient, ApiError, UploadSlot

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            422,
            b'{"error": {"code": "validation_failed", "message": "angles[0]: unknown angle", "field": "angles[0]"}}',
            (422, "validation_failed", "angles[0]: unknown angle", "angles[0]"),
        ),
        (404, b'{"error": {"code": "not_found", "message": "batch x not found"}}', (404, "not_found", "batch x not found", None)),
        (409, b'{"error": {"code": "conflict", "message": "busy", "field": ""}}', (409, "conflict", "busy", None)),
        (401, b'{"message": "Unauthorized"}', (401, "http_error", "Unauthorized", None)),
        (400, b'{"error": "bad thing"}', (400, "http_error", "bad thing", None)),
        (
            502,
            b"<html><body>Bad Gateway</body></html>",
            (502, "http_error", "request failed (502 Bad Gateway): <html><body>Bad Gateway</body></html>", None),
        ),
        (503, b"", (503, "http_error", "request failed (503 Service Unavailable)", None)),
        (500, b'{"error": {}}', (500, "http_error", "Internal Server Error", None)),
    ],
)
def test_api_error_from_response(status: int, body: bytes, expected: tuple) -> None:
    reason = httpx.codes.get_reason_phrase(status)
    error = ApiError.from_response(status, body, reason)
    assert (error.status, error.code, error.message, error.field) == expected


def test_api_error_str_names_status_code_and_field() -> None:
    error = ApiError(422, "validation_failed", "colors[1]: unknown colour", "colors[1]")
    assert str(error) == "HTTP 422 validation_failed: colors[1]: unknown colour [colors[1]]"
    assert str(ApiError(0, "network_error", "cannot reach x")) == "network_error: cannot reach x"


def test_token_and_dev_user_headers() -> None:
    api = FakeApi()
    with api.client(token="tok-123", user="alice") as client:
        client.presets()
    request = api.requests[-1]
    assert request.headers["Authorization"] == "Bearer tok-123"
    assert request.headers["X-Dev-User"] == "alice"
    assert request.headers["Accept"] == "application/json"


def test_no_auth_headers_by_default() -> None:
    api = FakeApi()
    with api.client() as client:
        client.config()
    assert "Authorization" not in api.requests[-1].headers
    assert "X-Dev-User" not in api.requests[-1].headers


def test_create_batch_body_and_idempotency_key() -> None:
    api = FakeApi()
    with api.client() as client:
        answer = client.create_batch(["u1", "u2"], ["front_0"], ["red_metallic"], False, idempotency_key="k-1")
        client.create_batch(["u1"], ["front_0"], [])
    assert answer["batchId"] == "batch-1"
    first, second = api.created
    assert first["body"] == {
        "sourceImageUrls": ["u1", "u2"],
        "angles": ["front_0"],
        "colors": ["red_metallic"],
        "autoColorize": False,
    }
    assert first["headers"]["idempotency-key"] == "k-1"
    assert second["body"]["autoColorize"] is True
    assert "idempotency-key" not in second["headers"]


def test_errors_become_api_errors_with_field() -> None:
    api = FakeApi()
    api.errors[("POST", f"{BASE}/batch")] = (
        422,
        {"error": {"code": "validation_failed", "message": "angles[0]: unknown", "field": "angles[0]"}},
    )
    with api.client() as client, pytest.raises(ApiError) as caught:
        client.create_batch(["u"], ["nope"], [])
    assert (caught.value.status, caught.value.code, caught.value.field) == (422, "validation_failed", "angles[0]")


def test_unknown_batch_is_404() -> None:
    with FakeApi().client() as client, pytest.raises(ApiError) as caught:
        client.get_batch("other")
    assert caught.value.status == 404 and caught.value.code == "not_found"


def test_put_upload_sends_exact_bytes_and_only_the_returned_headers() -> None:
    api = FakeApi()
    data = bytes(range(256)) * 10  # every byte value, intact
    slot = UploadSlot("http://s3.fake/bucket/uploads/0?X-Amz-Signature=abc", {"Content-Type": "image/jpeg"}, "src")
    with api.client(token="secret-token", user="bob") as client:
        client.put_upload(slot, data)
    url, headers, body = api.puts[0]
    assert url == slot.upload_url
    assert body == data
    assert headers["content-type"] == "image/jpeg"
    assert headers["content-length"] == str(len(data))
    assert "authorization" not in headers and "x-dev-user" not in headers


def test_create_uploads_returns_slots_in_order() -> None:
    api = FakeApi()
    files = [
        {"filename": "a.jpg", "contentType": "image/jpeg", "size": 10},
        {"filename": "b.png", "contentType": "image/png", "size": 20},
    ]
    with api.client() as client:
        slots = client.create_uploads(files)
    assert [s.headers for s in slots] == [{"Content-Type": "image/jpeg"}, {"Content-Type": "image/png"}]
    assert slots[1].source_image_url.endswith("/uploads/1?get")


def test_network_failure_is_status_zero() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with ApiClient("http://127.0.0.1:9", transport=httpx.MockTransport(refuse)) as client, pytest.raises(ApiError) as caught:
        client.config()
    assert caught.value.status == 0 and caught.value.code == "network_error"
    assert "cannot reach http://127.0.0.1:9" in caught.value.message


def test_download_refuses_missing_objects() -> None:
    with FakeApi().client() as client, pytest.raises(ApiError) as caught:
        client.download("http://s3.fake/bucket/missing.png")
    assert caught.value.status == 404


def test_default_api_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_API_URL", "http://example.test:8080/")
    assert ApiClient().base_url == "http://example.test:8080"
    monkeypatch.delenv("MARKETPLACE_API_URL")
    assert ApiClient().base_url == "http://127.0.0.1:3000"
