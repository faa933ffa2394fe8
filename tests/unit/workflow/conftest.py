"""Fixtures for the workflow units: environment, moto (DynamoDB + S3 built from template.yaml),
a recording Step Functions client and a recording WebSocket management client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws
from workflow_testkit import BUCKET, ENV, TABLE, FakeManagementClient, FakeSfn, World, reset_caches

from marketplace import aws, notifier, repository, workflow
from tests.support.aws_resources import create_bucket_from_template, create_table_from_template


def pytest_configure(config: pytest.Config) -> None:
    # Handlers that emitted no metric in a test make Powertools warn; that is expected.
    config.addinivalue_line("filterwarnings", "ignore:No application metrics to publish:UserWarning")


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "DEV_MODE", "PUBLIC_ASSET_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with mock_aws():
        dynamodb = aws.dynamodb_client()
        s3 = aws.s3_client()
        create_table_from_template(dynamodb, TABLE)
        create_bucket_from_template(s3, BUCKET)
        repo = repository.get_repository()
        ws = FakeManagementClient()
        notifier._notifier = notifier.Notifier(repository=repo, client=ws)
        sfn = FakeSfn()
        monkeypatch.setattr(workflow, "sfn_client", lambda: sfn)
        yield World(dynamodb=dynamodb, s3=s3, repo=repo, ws=ws, sfn=sfn)
