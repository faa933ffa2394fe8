"""The one environment handlers get in in-process tests: what `marketplace.config.Settings` and
Powertools read, pointing at the moto resources of `tests.support.aws_resources`.

`use_handler_env(monkeypatch, extra)` puts it in place (shell variables that would point the
handlers elsewhere removed, `extra` on top: the presets CSV URLs of a served folder, a test's own
bucket...) and resets the package's caches; a fixture using it calls `reset_marketplace_caches()`
again at teardown.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping

import pytest

from tests.support.aws_resources import BUCKET, TABLE, state_machine_arn
from tests.support.resets import reset_marketplace_caches

# moto's fake credentials: boto3 must never find real ones.
FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
# Never taken from the shell: they would send the handlers to another endpoint, account or host.
NOT_FROM_SHELL = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "PUBLIC_ASSET_BASE_URL")

TICKET_SECRET = "test-ticket-secret-0123456789"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"current-secret-0123456789abcdef").decode()
OLD_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"previous-secret-0123456789abcde").decode()
REPLICATE_TOKEN = "r8_unit_test_token_do_not_log"
WEBHOOK_URL = "https://api.example.test/webhooks/replicate"
WEBSOCKET_URL = "wss://ws.example.test/prod"
SOURCE_URL_ALLOWED_HOSTS = "images.example.com"

HANDLER_ENV = {
    **FAKE_AWS,
    "TABLE_NAME": TABLE,
    "BUCKET_NAME": BUCKET,
    "STATE_MACHINE_ARN": state_machine_arn(),
    "WEBSOCKET_URL": WEBSOCKET_URL,
    "WEBSOCKET_MANAGEMENT_URL": "https://ws.example.test/prod",
    "WEBHOOK_URL": WEBHOOK_URL,
    "PRESETS_CACHE_SECONDS": "60",
    "TICKET_SECRET": TICKET_SECRET,
    "WEBHOOK_SECRETS": f"{WEBHOOK_SECRET},{OLD_WEBHOOK_SECRET}",
    "REPLICATE_API_TOKEN": REPLICATE_TOKEN,
    "REPLICATE_BASE_URL": "https://api.replicate.test",
    "REPLICATE_OUTPUT_HOSTS": "127.0.0.1",
    "SOURCE_URL_ALLOWED_HOSTS": SOURCE_URL_ALLOWED_HOSTS,
    "DEV_MODE": "true",
    "POWERTOOLS_SERVICE_NAME": "car-marketplace-test",
    "POWERTOOLS_METRICS_NAMESPACE": "CarMarketplaceTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_DISABLED": "false",  # as in Lambda: the metrics are flushed (to stdout)
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
}


def presets_env(csv_base_url: str) -> dict[str, str]:
    """The three CSV URLs for a folder served at `csv_base_url` (tests.support.csv_server)."""
    return {
        "GLOBAL_PROMPTS_CSV_URL": f"{csv_base_url}/global_prompts.csv",
        "ANGLE_PRESETS_CSV_URL": f"{csv_base_url}/angle_presets.csv",
        "COLOR_PRESETS_CSV_URL": f"{csv_base_url}/color_presets.csv",
    }


def use_handler_env(
    monkeypatch: pytest.MonkeyPatch, extra: Mapping[str, str] | None = None, *, keep_aws_clients: bool = False
) -> dict[str, str]:
    """Sets `HANDLER_ENV` plus `extra` (undone with `monkeypatch`), resets the caches
    (`reset_marketplace_caches(keep_aws_clients=...)`), returns the env."""
    env = {**HANDLER_ENV, **(extra or {})}
    for name in NOT_FROM_SHELL:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_marketplace_caches(keep_aws_clients=keep_aws_clients)
    return env
