"""Short-lived, owner-bound WebSocket tickets (browsers cannot send headers on connect)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from .config import get_settings
from .errors import Unauthorized
from .secrets import get_secret


def ticket_ttl_seconds() -> int:
    return get_settings().ticket_ttl_seconds


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key() -> bytes:
    return get_secret("TICKET_SECRET", "TICKET_SECRET_PARAM").encode()


def issue_ticket(owner: str, now: float | None = None, ttl: int | None = None) -> tuple[str, int]:
    expires_at = int((now if now is not None else time.time()) + (ticket_ttl_seconds() if ttl is None else ttl))
    body = _b64(json.dumps({"sub": owner, "exp": expires_at}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{signature}", expires_at


def verify_ticket(ticket: str | None, now: float | None = None) -> str:
    """Returns the owner of a valid, unexpired ticket; raises Unauthorized otherwise."""
    if not ticket or len(ticket) > 1024 or ticket.count(".") != 1:
        raise Unauthorized("missing or malformed ticket", field="ticket")
    body, signature = ticket.split(".")
    expected = _b64(hmac.new(_key(), body.encode("utf-8", "surrogatepass"), hashlib.sha256).digest())
    # Bytes, not str: compare_digest raises TypeError on a non-ASCII str (a forged ticket).
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "surrogatepass")):
        raise Unauthorized("invalid ticket", field="ticket")
    try:
        claims = json.loads(_unb64(body))
        owner, expires_at = str(claims["sub"]), int(claims["exp"])
    except (ValueError, KeyError, TypeError, OverflowError) as error:
        raise Unauthorized("malformed ticket", field="ticket") from error
    if expires_at < (now if now is not None else time.time()):
        raise Unauthorized("ticket expired", field="ticket")
    return owner
