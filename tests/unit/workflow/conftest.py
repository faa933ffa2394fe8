"""Fixtures for the workflow units: environment (tests.support.handler_env), moto (DynamoDB + S3
built from template.yaml by the local stack's provisioner),
a recording Step Functions client, a recording WebSocket management client, and a fake clock for
the create schedule."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from workflow_testkit import FakeClock, FakeManagementClient, FakeSfn, World

from marketplace import aws, create_slots, notifier, repository, workflow
from tests.support.aws_resources import create_bucket_from_template, create_table_from_template
from tests.support.handler_env import use_handler_env
from tests.support.resets import reset_marketplace_caches


def pytest_configure(config: pytest.Config) -> None:
    # Handlers that emitted no metric in a test make Powertools warn; that is expected.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The boto3 clients are kept from test to test: every test here has the same AWS environment,
    # and rebuilding them per test made this suite five times slower.
    use_handler_env(monkeypatch, keep_aws_clients=True)
    yield
    reset_marketplace_caches(keep_aws_clients=True)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        dynamodb = aws.dynamodb_client()
        s3 = aws.s3_client()
        create_table_from_template(dynamodb)
        create_bucket_from_template(s3)
        repo = repository.get_repository()
        ws = FakeManagementClient()
        notifier._notifier = notifier.Notifier(repository=repo, client=ws)
        sfn = FakeSfn()
        monkeypatch.setattr(workflow, "sfn_client", lambda: sfn)
        yield World(dynamodb=dynamodb, s3=s3, repo=repo, ws=ws, sfn=sfn)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The create schedule's clock and sleep, under the test's control."""
    fake = FakeClock()
    monkeypatch.setattr(create_slots, "now_ms", lambda: fake.now_ms)
    monkeypatch.setattr(create_slots, "time", fake)
    return fake
