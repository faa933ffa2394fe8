"""persist_output over real local HTTP: allowed host, size cap while streaming, redirects, 5xx."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
from moto import mock_aws
from PIL import Image

from marketplace import outputs
from marketplace.config import get_settings
from marketplace.outputs import OutputRejected, OutputUnavailable, persist_output
from tests.support.aws_resources import create_bucket_from_template
from tests.support.handler_env import use_handler_env
from tests.support.resets import reset_marketplace_caches

pytestmark = pytest.mark.integration

BUCKET = "marketplace-download-test"


def _png(width: int = 800, height: int = 600) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/out.png":
            self._send(200, PNG)
        elif self.path == "/huge.png":
            # No Content-Length: the cap must hold while streaming.
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.end_headers()
            self.wfile.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 200_000)
        elif self.path == "/declared-huge.png":
            self.send_response(200)
            self.send_header("content-length", str(10**9))
            self.end_headers()
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("location", "/out.png")
            self.end_headers()
        elif self.path == "/elsewhere":
            self.send_response(302)
            self.send_header("location", "https://evil.example.com/out.png")
            self.end_headers()
        elif self.path == "/gone.png":
            self._send(404, b"expired")
        elif self.path == "/busy.png":
            self._send(503, b"busy")
        else:
            self._send(404, b"")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch, server: str) -> Iterator[object]:
    port = server.rsplit(":", 1)[1]
    use_handler_env(monkeypatch, {"BUCKET_NAME": BUCKET, "REPLICATE_OUTPUT_HOSTS": f"127.0.0.1:{port}"})
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        create_bucket_from_template(client, BUCKET)
        yield client
    reset_marketplace_caches()


def test_given_an_output_on_the_allowed_host_when_persisted_then_the_exact_bytes_are_stored(server: str, s3) -> None:
    stored = persist_output("b-1", "front_0", "red_metallic", f"{server}/out.png")
    body = s3.get_object(Bucket=BUCKET, Key=stored.image_key)["Body"].read()
    assert body == PNG
    assert stored.width == 800 and stored.height == 600
    assert stored.timings["download"] >= 0


def test_given_a_same_host_redirect_when_persisted_then_it_is_followed(server: str, s3) -> None:
    assert persist_output("b-1", "front_0", None, f"{server}/moved").size_bytes == len(PNG)


def test_given_a_redirect_to_another_host_when_persisted_then_it_is_rejected(server: str, s3) -> None:
    with pytest.raises(OutputRejected, match="another host"):
        persist_output("b-1", "front_0", None, f"{server}/elsewhere")


def test_given_a_body_over_the_cap_without_length_when_streamed_then_the_download_stops_and_is_rejected(
    server: str, s3, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outputs, "MAX_OUTPUT_BYTES", 100_000)
    with pytest.raises(OutputRejected, match="larger than"):
        persist_output("b-1", "front_0", None, f"{server}/huge.png")


def test_given_a_declared_length_over_the_cap_when_fetched_then_it_is_rejected_before_reading(server: str, s3) -> None:
    with pytest.raises(OutputRejected, match="larger than"):
        persist_output("b-1", "front_0", None, f"{server}/declared-huge.png")


def test_given_an_expired_output_when_fetched_then_it_is_rejected(server: str, s3) -> None:
    with pytest.raises(OutputRejected, match="404"):
        persist_output("b-1", "front_0", None, f"{server}/gone.png")


def test_given_a_busy_output_host_when_fetched_then_it_is_retryable_not_a_rejection(server: str, s3) -> None:
    with pytest.raises(OutputUnavailable):
        persist_output("b-1", "front_0", None, f"{server}/busy.png")


def test_given_a_port_nobody_listens_on_when_fetched_then_it_is_retryable(s3, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPLICATE_OUTPUT_HOSTS", "127.0.0.1:1")
    get_settings.cache_clear()
    with pytest.raises(OutputUnavailable):
        persist_output("b-1", "front_0", None, "http://127.0.0.1:1/out.png")
