"""Standard Webhooks signing, exactly as Replicate signs its webhooks.

``webhook-signature`` is ``v1,<base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}"))>``
where ``key`` is the base64-decoded part of the ``whsec_...`` secret after the prefix.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def generate_secret() -> str:
    """A fresh ``whsec_<base64 of 24 random bytes>`` secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode("ascii")


def new_message_id() -> str:
    """A unique ``webhook-id`` (``msg_<random>``)."""
    return "msg_" + secrets.token_urlsafe(18).replace("-", "").replace("_", "")[:24]


def sign(secret: str, message_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value for one delivery."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.{body}".encode()
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str, message_id: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """All headers of one webhook POST (a retry passes the same ``message_id``)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "content-type": "application/json",
        "user-agent": "Replicate-Webhooks/standin",
        "webhook-id": message_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(secret, message_id, stamp, body),
    }
