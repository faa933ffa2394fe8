"""Cached boto3 clients, built on first use so tests can set the environment first.

boto3 reads AWS_ENDPOINT_URL itself, which is how the local stack points every client at moto.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from .config import get_settings

# Many threads share one client locally; a generous pool avoids "connection pool is full" churn.
_CONFIG = Config(max_pool_connections=64, retries={"mode": "standard", "max_attempts": 4})


@lru_cache(maxsize=1)
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


@lru_cache(maxsize=1)
def s3_client() -> Any:
    # Path-style addressing keeps presigned URLs on the endpoint host (moto, custom domains).
    return boto3.client("s3", config=_CONFIG.merge(Config(s3={"addressing_style": "path"}, signature_version="s3v4")))


@lru_cache(maxsize=1)
def sfn_client() -> Any:
    return boto3.client("stepfunctions", config=_CONFIG)


@lru_cache(maxsize=1)
def ws_management_client() -> Any:
    endpoint = get_settings().websocket_management_url
    return boto3.client("apigatewaymanagementapi", endpoint_url=endpoint or None, config=_CONFIG)


def reset_clients() -> None:
    for factory in (dynamodb_client, s3_client, sfn_client, ws_management_client):
        factory.cache_clear()
