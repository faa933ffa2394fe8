"""Standard Webhooks verification of Replicate's deliveries, on the raw body.

Headers ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (one or
more space-separated ``v1,<base64>``). The signature is HMAC-SHA256 keyed with the base64-decoded
part of ``whsec_<base64>`` over ``f"{id}.{timestamp}."`` + body. Any of the configured secrets
may match (current and previous, for rotation). The timestamp must lie within ``tolerance`` of
now in both directions. No message ever contains a secret or a computed signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping

from .errors import WebhookRejected
from .secrets import get_secret

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
DEFAULT_TOLERANCE_SECONDS = 300
_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
_MAX_ID_LENGTH = 256
_MAX_SIGNATURE_HEADER = 4096


def webhook_secrets() -> list[str]:
    """``whsec_current[,whsec_previous]`` from the environment or SSM."""
    raw = get_secret("WEBHOOK_SECRETS", "WEBHOOK_SECRETS_PARAM")
    secrets = [part.strip() for part in raw.split(",") if part.strip()]
    if not secrets:
        raise RuntimeError("no webhook signing secret is configured")
    return secrets


def _secret_key(secret: str, position: int) -> bytes:
    body = secret[len(SECRET_PREFIX) :] if secret.startswith(SECRET_PREFIX) else secret
    try:
        # Tolerate missing padding, as the standardwebhooks library does.
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise RuntimeError(f"webhook secret #{position + 1} is not valid base64") from None
    if not key:
        raise RuntimeError(f"webhook secret #{position + 1} is empty")
    return key


def _signatures(header: str) -> list[bytes]:
    """The decoded ``v1`` signatures; other versions are skipped, malformed entries rejected."""
    if len(header) > _MAX_SIGNATURE_HEADER:
        raise WebhookRejected("webhook-signature header is too long")
    found: list[bytes] = []
    for entry in header.split():
        version, sep, encoded = entry.partition(",")
        if not sep or not version or not encoded:
            raise WebhookRejected("webhook-signature entry is malformed (expected 'v1,<base64>')")
        if version != "v1":
            continue
        try:
            found.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            raise WebhookRejected("webhook-signature is not valid base64") from None
    if not found:
        raise WebhookRejected("webhook-signature has no v1 signature")
    return found


def verify_webhook(
    headers: Mapping[str, str],
    raw_body: bytes,
    secrets: list[str],
    now: float | None = None,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> None:
    """Returns when one of ``secrets`` signed this delivery recently; else ``WebhookRejected``."""
    if not secrets:
        raise RuntimeError("no webhook signing secret is configured")
    lower = {str(k).lower(): str(v) for k, v in (headers or {}).items() if v is not None}
    webhook_id = lower.get("webhook-id", "").strip()
    timestamp = lower.get("webhook-timestamp", "").strip()
    signature = lower.get("webhook-signature", "").strip()
    missing = [
        name
        for name, value in (
            ("webhook-id", webhook_id),
            ("webhook-timestamp", timestamp),
            ("webhook-signature", signature),
        )
        if not value
    ]
    if missing:
        raise WebhookRejected(f"missing header(s): {', '.join(missing)}")
    if len(webhook_id) > _MAX_ID_LENGTH:
        raise WebhookRejected("webhook-id is too long")
    if not _TIMESTAMP_RE.match(timestamp):
        raise WebhookRejected("webhook-timestamp is not an integer number of seconds")
    current = time.time() if now is None else now
    age = current - int(timestamp)
    if age > tolerance_seconds:
        raise WebhookRejected("webhook-timestamp is too old")
    if -age > tolerance_seconds:
        raise WebhookRejected("webhook-timestamp is in the future")
    candidates = _signatures(signature)
    signed = f"{webhook_id}.{timestamp}.".encode() + bytes(raw_body)
    for position, secret in enumerate(secrets):
        expected = hmac.new(_secret_key(secret, position), signed, hashlib.sha256).digest()
        if any(hmac.compare_digest(expected, candidate) for candidate in candidates):
            return
    raise WebhookRejected("webhook signature does not match")
