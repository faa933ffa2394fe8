"""The local stack's secrets: random by default, chosen by a caller through LOCAL_* variables."""

from __future__ import annotations

import pytest

from local_stack.environment import LocalSecrets

pytestmark = pytest.mark.unit


def test_given_no_choice_when_secrets_are_made_then_each_is_random_and_well_formed():
    first, second = LocalSecrets.from_env({}), LocalSecrets.from_env({})
    assert first != second
    assert first.replicate_api_token.startswith("r8_") and first.webhook_secret.startswith("whsec_")


def test_given_chosen_secrets_when_secrets_are_made_then_they_are_used():
    chosen = {"LOCAL_REPLICATE_API_TOKEN": "r8_chosen", "LOCAL_WEBHOOK_SECRET": "whsec_dGVzdC1jaG9zZW4tc2VjcmV0LTEyMzQ=",
              "LOCAL_TICKET_SECRET": "ticket-chosen"}
    made = LocalSecrets.from_env(chosen)
    assert (made.replicate_api_token, made.webhook_secret, made.ticket_secret) == tuple(chosen.values())


def test_given_a_real_replicate_token_in_the_shell_when_secrets_are_made_then_it_is_not_picked_up():
    made = LocalSecrets.from_env({"REPLICATE_API_TOKEN": "r8_a_developers_real_token"})
    assert made.replicate_api_token != "r8_a_developers_real_token"


def test_given_a_webhook_secret_without_its_prefix_when_secrets_are_made_then_it_is_refused():
    with pytest.raises(ValueError, match="whsec_"):
        LocalSecrets.from_env({"LOCAL_WEBHOOK_SECRET": "not-a-whsec"})
