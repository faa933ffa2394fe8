"""Fixtures shared by the presets tests (unit and integration)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from marketplace import presets as presets_module
from tests.support.presets_testkit import BUCKET, CountingS3, FakeClock, RecordingLogger, SheetServer


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presets_module, "RETRY_DELAY_SECONDS", 0.01)


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    recorder = RecordingLogger()
    monkeypatch.setattr(presets_module, "logger", recorder)
    return recorder


@pytest.fixture
def server():
    srv = SheetServer()
    srv.serve_samples()
    yield srv
    srv.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(aws_env: None):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield CountingS3(client)


@pytest.fixture(autouse=True)
def _reset_process_store():
    presets_module.reset_presets_cache()
    yield
    presets_module.reset_presets_cache()
