"""Standard Webhooks verification (marketplace.webhooks), cross-checked against the
standardwebhooks library's signer and the replicate client's own validator."""

from __future__ import annotations

import base64
import logging
import time
from datetime import UTC, datetime

import pytest
from replicate.webhook import Webhooks, WebhookSigningSecret
from standardwebhooks import Webhook
from workflow_testkit import OLD_SECRET, SECRET

from marketplace.errors import WebhookRejected
from marketplace.webhooks import verify_webhook, webhook_secrets

pytestmark = pytest.mark.unit

BODY = b'{"id":"p1","status":"succeeded","output":"https://replicate.delivery/x/out.png"}'
NOW = 1_760_000_000


def signed_headers(secret: str = SECRET, body: bytes = BODY, ts: int = NOW, msg_id: str = "msg_1") -> dict[str, str]:
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(ts, tz=UTC), body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_given_a_delivery_signed_with_the_current_secret_when_verified_then_it_is_accepted() -> None:
    verify_webhook(signed_headers(), BODY, [SECRET], now=NOW)


def test_given_a_delivery_signed_with_the_previous_secret_when_both_are_configured_then_it_is_accepted() -> None:
    verify_webhook(signed_headers(OLD_SECRET), BODY, [SECRET, OLD_SECRET], now=NOW)


def test_given_a_delivery_signed_with_another_secret_when_verified_then_it_is_rejected() -> None:
    other = "whsec_" + base64.b64encode(b"some-other-secret-value-000000").decode()
    with pytest.raises(WebhookRejected, match="does not match"):
        verify_webhook(signed_headers(other), BODY, [SECRET, OLD_SECRET], now=NOW)


def test_given_a_tampered_body_when_verified_then_it_is_rejected() -> None:
    headers = signed_headers()
    with pytest.raises(WebhookRejected):
        verify_webhook(headers, BODY.replace(b"succeeded", b"failed"), [SECRET], now=NOW)


def test_given_a_timestamp_older_than_the_tolerance_when_verified_then_it_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="too old"):
        verify_webhook(signed_headers(ts=NOW - 301), BODY, [SECRET], now=NOW)


def test_given_a_timestamp_in_the_future_beyond_the_tolerance_when_verified_then_it_is_rejected() -> None:
    with pytest.raises(WebhookRejected, match="future"):
        verify_webhook(signed_headers(ts=NOW + 301), BODY, [SECRET], now=NOW)


def test_given_a_timestamp_just_inside_the_tolerance_when_verified_then_it_is_accepted() -> None:
    verify_webhook(signed_headers(ts=NOW - 300), BODY, [SECRET], now=NOW)
    verify_webhook(signed_headers(ts=NOW + 300), BODY, [SECRET], now=NOW)


@pytest.mark.parametrize(
    "signature",
    ["v1", "v1,", "garbage", "v1,not base64!!", ",abc"],
)
def test_given_a_malformed_signature_header_when_verified_then_it_is_rejected(signature: str) -> None:
    headers = {**signed_headers(), "webhook-signature": signature}
    with pytest.raises(WebhookRejected):
        verify_webhook(headers, BODY, [SECRET], now=NOW)


def test_given_only_signatures_of_another_version_when_verified_then_it_is_rejected() -> None:
    good = signed_headers()["webhook-signature"]
    headers = {**signed_headers(), "webhook-signature": good.replace("v1,", "v2,")}
    with pytest.raises(WebhookRejected, match="no v1"):
        verify_webhook(headers, BODY, [SECRET], now=NOW)


def test_given_several_signatures_when_one_matches_then_it_is_accepted() -> None:
    good = signed_headers()["webhook-signature"]
    stale = "v1," + base64.b64encode(b"x" * 32).decode()
    headers = {**signed_headers(), "webhook-signature": f"v2,abc {stale} {good}"}
    verify_webhook(headers, BODY, [SECRET], now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_given_a_missing_header_when_verified_then_it_is_rejected_naming_it(missing: str) -> None:
    headers = signed_headers()
    del headers[missing]
    with pytest.raises(WebhookRejected, match=missing):
        verify_webhook(headers, BODY, [SECRET], now=NOW)


@pytest.mark.parametrize("timestamp", ["abc", "1.5", "-5", "17600000000000000", ""])
def test_given_a_timestamp_that_is_not_integer_seconds_when_verified_then_it_is_rejected(timestamp: str) -> None:
    headers = {**signed_headers(), "webhook-timestamp": timestamp}
    with pytest.raises(WebhookRejected):
        verify_webhook(headers, BODY, [SECRET], now=NOW)


def test_given_headers_in_any_case_when_verified_then_they_are_found() -> None:
    headers = {k.upper(): v for k, v in signed_headers().items()}
    verify_webhook(headers, BODY, [SECRET], now=NOW)


def test_given_a_delivery_the_replicate_client_accepts_when_we_verify_then_we_accept_it_too() -> None:
    ts = int(time.time())
    headers = signed_headers(ts=ts)
    Webhooks.validate(headers=headers, body=BODY.decode(), secret=WebhookSigningSecret(key=SECRET), tolerance=300)
    verify_webhook(headers, BODY, [SECRET])


def test_given_a_delivery_we_reject_when_the_replicate_client_checks_it_then_it_rejects_it_too() -> None:
    ts = int(time.time())
    headers = signed_headers(ts=ts)
    tampered = BODY + b" "
    with pytest.raises(Exception):
        Webhooks.validate(headers=headers, body=tampered.decode(), secret=WebhookSigningSecret(key=SECRET))
    with pytest.raises(WebhookRejected):
        verify_webhook(headers, tampered, [SECRET])


def test_given_any_rejection_when_it_is_raised_and_logged_then_no_secret_appears(
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_body = SECRET.removeprefix("whsec_")
    messages = []
    for headers, body in [
        (signed_headers("whsec_" + base64.b64encode(b"wrong-wrong-wrong-wrong").decode()), BODY),
        (signed_headers(), BODY + b"x"),
        (signed_headers(ts=NOW - 1000), BODY),
        ({"webhook-id": "m"}, BODY),
    ]:
        with pytest.raises(WebhookRejected) as caught:
            verify_webhook(headers, body, [SECRET, OLD_SECRET], now=NOW)
        messages.append(str(caught.value))
        messages.append(repr(caught.value))
    captured = capsys.readouterr()
    text = "\n".join(messages) + caplog.text + captured.out + captured.err
    for secret in (SECRET, OLD_SECRET, secret_body, OLD_SECRET.removeprefix("whsec_")):
        assert secret not in text


def test_given_an_invalid_configured_secret_when_verifying_then_the_error_names_its_position_not_its_value() -> None:
    with pytest.raises(RuntimeError) as caught:
        verify_webhook(signed_headers(), BODY, ["whsec_***not-base64***"], now=NOW)
    assert "#1" in str(caught.value)
    assert "not-base64" not in str(caught.value)


def test_given_comma_separated_secrets_in_the_environment_when_read_then_both_are_returned() -> None:
    assert webhook_secrets() == [SECRET, OLD_SECRET]
