"""The secrets scan: every form a stack's secret could take in text, and where it turned up.
Used by tests/security/test_secrets_in_logs.py (webhook mode) and tests/e2e/test_laptop_mode_demo.py
(laptop mode: the Files API, polling)."""

from __future__ import annotations

import base64
from collections.abc import Mapping


def needles(secrets: Mapping[str, str]) -> dict[str, str]:
    """The token, the webhook secret and the ticket secret (``LOCAL_*``), with and without their
    prefixes, and the webhook key as hex."""
    token, webhook, ticket = (secrets["LOCAL_REPLICATE_API_TOKEN"], secrets["LOCAL_WEBHOOK_SECRET"],
                              secrets["LOCAL_TICKET_SECRET"])
    key = base64.b64decode(webhook.removeprefix("whsec_"))
    return {
        "REPLICATE_API_TOKEN": token,
        "REPLICATE_API_TOKEN without its r8_ prefix": token.removeprefix("r8_"),
        "webhook secret": webhook,
        "webhook secret without its whsec_ prefix": webhook.removeprefix("whsec_"),
        "webhook key as hex": key.hex(),
        "TICKET_SECRET": ticket,
    }


def leaks(secrets: Mapping[str, str], places: Mapping[str, str | bytes]) -> list[str]:
    """``"<secret> in <place>"`` for every secret found in a place's text or bytes."""
    found = []
    for name, value in needles(secrets).items():
        for where, text in places.items():
            haystack = text if isinstance(text, str) else text.decode("latin-1")
            if value in haystack:
                found.append(f"{name} in {where}")
    return found
