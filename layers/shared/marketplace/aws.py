"""Cached boto3 clients, built on first use so tests can set the environment first, and so no
handler pays for importing boto3 (about 0.1 s) or building a client at import: boto3 and botocore
are imported by the first call here, during an invocation.

boto3 reads AWS_ENDPOINT_URL itself, which is how the local stack points every client at moto.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .config import get_settings

if TYPE_CHECKING:
    from botocore.config import Config

# Many threads share one client locally; a generous pool avoids "connection pool is full" churn.
_POOL_AND_RETRIES: dict[str, Any] = {"max_pool_connections": 64, "retries": {"mode": "standard", "max_attempts": 4}}


def _client(service: str, config: Config | None = None, **kwargs: Any) -> Any:
    import boto3
    from botocore.config import Config

    base = Config(**_POOL_AND_RETRIES)
    return boto3.client(service, config=base.merge(config) if config else base, **kwargs)


@lru_cache(maxsize=1)
def dynamodb_client() -> Any:
    return _client("dynamodb")


@lru_cache(maxsize=1)
def s3_client() -> Any:
    from botocore.config import Config

    # Path-style addressing keeps presigned URLs on the endpoint host (moto, custom domains).
    return _client("s3", Config(s3={"addressing_style": "path"}, signature_version="s3v4"))


@lru_cache(maxsize=1)
def sfn_client() -> Any:
    return _client("stepfunctions")


@lru_cache(maxsize=1)
def ws_management_client() -> Any:
    endpoint = get_settings().websocket_management_url
    return _client("apigatewaymanagementapi", endpoint_url=endpoint or None)


def reset_clients() -> None:
    for factory in (dynamodb_client, s3_client, sfn_client, ws_management_client):
        factory.cache_clear()
