"""Stand-in settings from the environment, and webhook signatures checked by two verifiers."""

from __future__ import annotations

import base64
import json
import time

import pytest
import standardwebhooks
from replicate.webhook import InvalidSignatureError, Webhooks, WebhookSigningSecret

from replicate_standin import StandinSettings
from replicate_standin.settings import parse_faults
from replicate_standin.signing import generate_secret, new_message_id, sign, signed_headers

pytestmark = pytest.mark.unit

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123").decode()


def test_given_an_empty_environment_when_read_then_the_documented_defaults_apply():
    settings = StandinSettings.from_env({})
    assert settings.port == 3100
    assert settings.latency_seconds == 0.5
    assert settings.faults == {}
    assert settings.seed is None and settings.webhook_secret is None and settings.api_token is None
    assert settings.output_base_url == "http://127.0.0.1:3100"
    assert settings.output_ttl_seconds == 3600 and settings.webhook_retry_seconds == 60


def test_given_every_variable_when_read_then_each_lands_in_its_field():
    settings = StandinSettings.from_env(
        {
            "STANDIN_PORT": "3999",
            "STANDIN_LATENCY_SECONDS": "0.25",
            "STANDIN_FAULTS": " fail=0.1, duplicate=0.2,drop=0.1,reorder=0.2,ratelimit=0.05,slow=0.1 ",
            "STANDIN_SEED": "42",
            "STANDIN_WEBHOOK_SECRET": SECRET,
            "STANDIN_PUBLIC_URL": "http://localhost:3999/",
            "STANDIN_API_TOKEN": "r8_token",
        }
    )
    assert settings.port == 3999 and settings.latency_seconds == 0.25 and settings.seed == 42
    assert settings.faults == {
        "fail": 0.1,
        "duplicate": 0.2,
        "drop": 0.1,
        "reorder": 0.2,
        "ratelimit": 0.05,
        "slow": 0.1,
    }
    assert settings.webhook_secret == SECRET and settings.api_token == "r8_token"
    assert settings.output_base_url == "http://localhost:3999"


def test_given_only_a_port_when_read_then_the_public_url_follows_the_port():
    assert StandinSettings.from_env({"STANDIN_PORT": "3111"}).output_base_url == "http://127.0.0.1:3111"


@pytest.mark.parametrize(
    ("host", "base"),
    [("localhost", "http://localhost:3100"), ("0.0.0.0", "http://127.0.0.1:3100"), ("::1", "http://[::1]:3100")],
)
def test_given_a_host_when_read_then_the_default_public_url_uses_it(host: str, base: str):
    settings = StandinSettings.from_env({"STANDIN_HOST": host})
    assert settings.host == host and settings.output_base_url == base


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("explode=0.5", "unknown fault 'explode'"),
        ("fail", "not NAME=PROBABILITY"),
        ("fail=lots", "no numeric probability"),
        ("fail=1.5", "not a probability"),
    ],
)
def test_given_bad_faults_when_parsed_then_the_error_names_the_entry(text: str, message: str):
    with pytest.raises(ValueError, match=message):
        parse_faults(text)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STANDIN_PORT": "abc"}, "STANDIN_PORT must be an integer"),
        ({"STANDIN_LATENCY_SECONDS": "soon"}, "STANDIN_LATENCY_SECONDS must be a number"),
        ({"STANDIN_WEBHOOK_SECRET": "not-a-secret"}, "whsec_"),
        ({"STANDIN_WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "at least 16 bytes"),
        ({"STANDIN_WEBHOOK_SENDERS": "0"}, "STANDIN_WEBHOOK_SENDERS must be at least 1"),
        ({"STANDIN_MAX_DOWNLOADS": "-2"}, "STANDIN_MAX_DOWNLOADS must be at least 1"),
    ],
)
def test_given_bad_variables_when_read_then_a_clear_error_names_the_variable(env: dict[str, str], message: str):
    with pytest.raises(ValueError, match=message):
        StandinSettings.from_env(env)


def test_given_capacity_variables_when_read_then_senders_and_downloads_land_in_their_fields():
    assert (StandinSettings.from_env({}).webhook_senders, StandinSettings.from_env({}).max_downloads) == (16, 8)
    settings = StandinSettings.from_env({"STANDIN_WEBHOOK_SENDERS": "3", "STANDIN_MAX_DOWNLOADS": "5"})
    assert (settings.webhook_senders, settings.max_downloads) == (3, 5)


def test_given_a_generated_secret_when_checked_then_it_is_whsec_base64_of_24_bytes():
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24
    assert generate_secret() != secret


def test_given_message_ids_when_generated_then_they_are_unique_and_prefixed():
    ids = {new_message_id() for _ in range(200)}
    assert len(ids) == 200 and all(i.startswith("msg_") for i in ids)


def test_given_a_signed_delivery_when_verified_by_the_replicate_client_and_standardwebhooks_then_both_accept():
    body = json.dumps({"id": "abc", "status": "succeeded", "output": "http://x/y.png"})
    headers = signed_headers(SECRET, "msg_1", body)
    Webhooks.validate(headers=headers, body=body, secret=WebhookSigningSecret(key=SECRET), tolerance=300)
    assert standardwebhooks.Webhook(SECRET).verify(body, headers)["id"] == "abc"


def test_given_a_tampered_body_when_verified_then_both_verifiers_reject_it():
    body = json.dumps({"id": "abc", "status": "failed"})
    headers = signed_headers(SECRET, "msg_2", body)
    tampered = body.replace("failed", "succeeded")
    with pytest.raises(InvalidSignatureError):
        Webhooks.validate(headers=headers, body=tampered, secret=WebhookSigningSecret(key=SECRET))
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(tampered, headers)


def test_given_a_known_vector_when_signed_then_the_signature_is_hmac_sha256_of_id_timestamp_body():
    import hashlib
    import hmac

    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, b"msg_x.1700000000.{}", hashlib.sha256).digest()).decode()
    assert sign(SECRET, "msg_x", 1700000000, "{}") == f"v1,{expected}"
    headers = signed_headers(SECRET, "msg_x", "{}", timestamp=1700000000)
    assert headers["webhook-timestamp"] == "1700000000" and headers["webhook-id"] == "msg_x"
    assert abs(int(signed_headers(SECRET, "m", "{}")["webhook-timestamp"]) - time.time()) < 5
