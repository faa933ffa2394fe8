"""Shared fixtures: environment, moto resources built from template.yaml, CSVs over HTTP."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from tests.support.aws_resources import (
    create_bucket_from_template,
    create_state_machine_from_template,
    create_table_from_template,
)
from tests.support.csv_server import serve_folder
from tests.support.fakes import FakeWebSocketManagement
from tests.support.handler_env import presets_env, use_handler_env
from tests.support.resets import reset_marketplace_caches
from tests.support.stack_process import running_stack

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_PRESETS = ROOT / "samples" / "presets"

# Tests never talk to the real Replicate, nor run every stack in laptop mode because of the
# developer's shell: `python -m local_stack` (which tests start) picks its Replicate from these.
for _name in ("REPLICATE_API_TOKEN", "STANDIN_REMOTE", "REPLICATE_INPUT_HANDOVER", "REPLICATE_COMPLETION"):
    os.environ.pop(_name, None)


@pytest.fixture
def presets_folder(tmp_path: Path) -> Path:
    """A writable copy of the sample CSVs (tests edit them to prove reloads)."""
    folder = tmp_path / "presets"
    shutil.copytree(SAMPLE_PRESETS, folder)
    return folder


@pytest.fixture
def csv_base_url(presets_folder: Path) -> Iterator[str]:
    with serve_folder(presets_folder) as url:
        yield url


@pytest.fixture
def base_env(monkeypatch: pytest.MonkeyPatch, csv_base_url: str) -> Iterator[dict[str, str]]:
    """tests.support.handler_env's environment, presets from the served sample CSVs."""
    yield use_handler_env(monkeypatch, presets_env(csv_base_url))
    reset_marketplace_caches()


@pytest.fixture
def aws(base_env: dict[str, str]) -> Iterator[dict[str, str]]:
    """moto in-process with the template's table, bucket and state machine (made by the local
    stack's provisioner); the machine runs for real only in integration tests."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": False}, "lambda": {"use_docker": False}}):
        create_table_from_template(boto3.client("dynamodb"))
        create_bucket_from_template(boto3.client("s3"))
        create_state_machine_from_template(boto3.client("stepfunctions"))
        yield base_env


@pytest.fixture
def ws_posts(aws: dict[str, str]) -> FakeWebSocketManagement:
    """Captures every WebSocket push (moto's management API cannot answer 410 Gone)."""
    from marketplace import notifier, repository

    fake = FakeWebSocketManagement()
    notifier._notifier = notifier.Notifier(repository=repository.get_repository(), client=fake)
    return fake


@pytest.fixture(scope="session")
def stack() -> Iterator[dict[str, object]]:
    """One local stack subprocess for the session's e2e and browser tests (started on first use)."""
    with running_stack({"STANDIN_LATENCY_SECONDS": "0.3", "LOCAL_SCHEDULE_SECONDS": "2"}) as urls:
        yield urls


@pytest.fixture(scope="session")
def stack_url(stack: dict[str, object]) -> str:
    return str(stack["base_url"])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last: Playwright's sync API keeps an event loop running in the main
    thread for the session, after which asyncio.run() in other tests would fail."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


# Allow-listed on purpose: every one of these resolves to loopback, so a batch naming them must
# still be refused (tests/security/test_input_attacks.py).
LOOPBACK_ALIASES = ("localhost", "127.1", "0x7f000001", "2130706433", "0177.0.0.1")


@pytest.fixture(scope="session")
def secure_stack() -> Iterator[dict[str, object]]:
    """A local stack whose secrets the tests know (to sign webhooks, read the stand-in, and prove the
    secrets never reach a log), with loopback names on the source allow-list, 3 s WebSocket tickets
    and DEBUG handler logs. Used by the security, fuzz and secrets tests."""
    from tests.support.stack_state import known_secrets

    secrets = known_secrets()
    env = {
        **secrets,
        "SOURCE_URL_ALLOWED_HOSTS": ",".join(LOOPBACK_ALIASES),
        "TICKET_TTL_SECONDS": "3",
        "STANDIN_LATENCY_SECONDS": "0.3",
        "LOCAL_SCHEDULE_SECONDS": "2",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }
    with running_stack(env) as urls:
        yield {**urls, "secrets": secrets}
