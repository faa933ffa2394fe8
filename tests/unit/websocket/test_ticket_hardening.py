"""Tickets under hostile input (found while attacking $connect) and the configurable TTL."""

from __future__ import annotations

import os

import pytest

from tests.support.lambda_events import FakeContext, load_function, ws_event

pytestmark = [pytest.mark.unit, pytest.mark.security]


@pytest.fixture
def ws(ws_posts):
    module = load_function("websocket")

    def call(route: str, connection_id: str, body=None, query=None):
        return module.lambda_handler(ws_event(route, connection_id, body, query), FakeContext())

    return call


@pytest.mark.parametrize("ticket", ["eyJzdWIiOiJ4In0.\u00e9\u00e9\u00e9", "\u00e9.x", "\ud800.x", "x.\ud800"])
def test_given_a_ticket_with_non_ascii_characters_when_connecting_then_401_not_an_exception(ws, ticket):
    # hmac.compare_digest raises TypeError on non-ASCII str: that used to escape as a 500.
    assert ws("$connect", "c1", query={"ticket": ticket})["statusCode"] == 401


def test_given_a_signed_ticket_with_an_absurd_expiry_when_verified_then_unauthorized(aws):
    import base64
    import hashlib
    import hmac

    from marketplace.errors import Unauthorized
    from marketplace.tickets import verify_ticket

    body = base64.urlsafe_b64encode(b'{"sub":"x","exp":1e999}').decode().rstrip("=")
    key = os.environ["TICKET_SECRET"].encode()
    signature = base64.urlsafe_b64encode(hmac.new(key, body.encode(), hashlib.sha256).digest()).decode().rstrip("=")
    with pytest.raises(Unauthorized):
        verify_ticket(f"{body}.{signature}")


@pytest.mark.parametrize(("value", "ttl"), [(None, 60), ("3", 3), ("0", 1), ("99999", 3600), ("soon", 60), ("", 60)])
def test_given_ticket_ttl_seconds_in_the_environment_when_a_ticket_is_issued_then_it_expires_accordingly(
    aws, monkeypatch, value, ttl
):
    from marketplace.config import get_settings
    from marketplace.tickets import issue_ticket

    if value is None:
        monkeypatch.delenv("TICKET_TTL_SECONDS", raising=False)
    else:
        monkeypatch.setenv("TICKET_TTL_SECONDS", value)
    get_settings.cache_clear()
    _, expires_at = issue_ticket("dealer-1", now=1000.0)
    assert expires_at == 1000 + ttl
