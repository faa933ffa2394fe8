"""Fixtures shared by the presets tests (unit and integration)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from marketplace.presets import fetch as presets_fetch
from marketplace.presets import store as presets_store
from tests.support.handler_env import FAKE_AWS, NOT_FROM_SHELL
from tests.support.presets_testkit import BUCKET, CountingS3, FakeClock, RecordingLogger, SheetServer
from tests.support.resets import reset_marketplace_caches


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(presets_fetch, "RETRY_DELAY_SECONDS", 0.01)


@pytest.fixture
def log(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    recorder = RecordingLogger()
    monkeypatch.setattr(presets_fetch, "logger", recorder)  # the retry log
    monkeypatch.setattr(presets_store, "logger", recorder)  # last-good, invalid and unavailable logs
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
    """moto's credentials only (tests.support.handler_env), no handler settings."""
    for name, value in FAKE_AWS.items():
        monkeypatch.setenv(name, value)
    for name in NOT_FROM_SHELL:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3(aws_env: None):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield CountingS3(client)


@pytest.fixture(autouse=True)
def _reset_process_store():
    reset_marketplace_caches()
    yield
    reset_marketplace_caches()
