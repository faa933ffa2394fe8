"""Which Replicate the local stack talks to (local_stack/poller.py) and what each choice puts in
the handlers' environment: laptop mode (Files API, polling) for the two remote targets."""

from __future__ import annotations

import pytest

from local_stack.environment import LocalSecrets, local_environment
from local_stack.model import ScheduleSpec
from local_stack.poller import REPLICATE, STANDIN, STANDIN_REMOTE, Poller, choose_target
from local_stack.stack import LocalStack

pytestmark = pytest.mark.unit
SECRETS = LocalSecrets.from_env({"LOCAL_REPLICATE_API_TOKEN": "r8_local_token"})


def env_for(target: str, shell: dict[str, str] | None = None) -> dict[str, str | None]:
    return local_environment({}, host="127.0.0.1", port=3000, standin_port=3100, moto_port=3200, secrets_=SECRETS,
                             shell=shell or {}, replicate_target=target)


@pytest.mark.parametrize(
    ("shell", "target"),
    [({}, STANDIN), ({"REPLICATE_API_TOKEN": "r8_real"}, REPLICATE), ({"STANDIN_REMOTE": "1"}, STANDIN_REMOTE),
     ({"STANDIN_REMOTE": "1", "REPLICATE_API_TOKEN": "r8_real"}, STANDIN_REMOTE), ({"REPLICATE_API_TOKEN": " "}, STANDIN)],
)
def test_given_a_shell_when_the_target_is_chosen_then_standin_remote_wins_and_a_token_means_the_real_replicate(
    shell, target
):
    assert choose_target(shell) == target


def test_given_the_real_replicate_when_the_environment_is_built_then_the_shells_token_goes_to_api_replicate_com():
    env = env_for(REPLICATE, {"REPLICATE_API_TOKEN": "r8_real"})
    assert env["REPLICATE_API_TOKEN"] == "r8_real"
    assert env["REPLICATE_BASE_URL"] is None and env["REPLICATE_OUTPUT_HOSTS"] is None  # api.replicate.com, replicate.delivery
    assert (env["REPLICATE_INPUT_HANDOVER"], env["REPLICATE_COMPLETION"]) == ("files", "poll")
    assert env["STANDIN_API_TOKEN"] is None  # no stand-in is given the real token


def test_given_the_remote_standin_when_the_environment_is_built_then_it_is_laptop_mode_against_the_standin():
    env = env_for(STANDIN_REMOTE, {"REPLICATE_API_TOKEN": "r8_real"})
    assert env["REPLICATE_API_TOKEN"] == "r8_local_token" == env["STANDIN_API_TOKEN"]  # never the real one
    assert env["REPLICATE_BASE_URL"] == "http://127.0.0.1:3100" and env["STANDIN_REMOTE"] == "1"
    assert (env["REPLICATE_INPUT_HANDOVER"], env["REPLICATE_COMPLETION"]) == ("files", "poll")


def test_given_the_standin_when_the_environment_is_built_then_webhooks_and_urls_as_before():
    env = env_for(STANDIN, {"STANDIN_REMOTE": "1"})
    assert env["STANDIN_REMOTE"] == "0" and "REPLICATE_INPUT_HANDOVER" not in env and "REPLICATE_COMPLETION" not in env


def test_given_the_real_replicate_without_a_token_when_the_environment_is_built_then_it_is_refused():
    with pytest.raises(ValueError, match="REPLICATE_API_TOKEN"):
        env_for(REPLICATE, {})


def test_given_the_templates_schedules_when_split_then_the_poller_takes_the_reconcilers():
    reconcile = ScheduleSpec("ReconcileFunction", "EveryMinute", "rate(1 minute)", None)
    other = ScheduleSpec("OtherFunction", "Nightly", "rate(1 day)", None)
    assert Poller.split([reconcile, other]) == ([reconcile], [other])


def test_given_an_unknown_target_when_a_stack_is_made_then_it_is_refused():
    with pytest.raises(ValueError, match="replicate must be one of"):
        LocalStack(replicate="openai")
