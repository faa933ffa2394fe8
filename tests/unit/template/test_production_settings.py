"""What only real AWS would show, pinned in template.yaml: timeouts that fit, sweeps that never
overlap, routes that reach the stage, parameter names that make valid ARNs. Read through the same
template reader the local stack uses (SAM Globals merged)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local_stack.template import Template
from marketplace.webhook_delivery import WEBHOOK_BUDGET_SECONDS

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS = 30
MARGIN_SECONDS = 3


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(ROOT / "template.yaml")


def test_given_the_webhooks_worst_case_when_added_up_then_it_fits_its_timeout_well_under_api_gateways(template):
    timeout = template.properties("ReplicateWebhookFunction")["Timeout"]
    worst_case = sum(WEBHOOK_BUDGET_SECONDS.values())
    # Past the integration timeout Replicate gets a 503 while the delivery still works.
    assert worst_case + 1 <= timeout <= API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS - MARGIN_SECONDS, WEBHOOK_BUDGET_SECONDS


def test_given_the_http_routes_when_their_functions_are_read_then_each_answers_before_api_gateway_gives_up(template):
    routed = [
        logical_id for logical_id, _ in template.resources_of("AWS::Serverless::Function")
        if any(e.get("Type") == "HttpApi" for e in (template.properties(logical_id).get("Events") or {}).values())
    ]
    assert routed
    for logical_id in routed:
        timeout = template.properties(logical_id)["Timeout"]
        assert timeout <= API_GATEWAY_INTEGRATION_TIMEOUT_SECONDS - MARGIN_SECONDS, logical_id


def test_given_the_reconciler_when_read_then_sweeps_never_overlap_and_a_failed_sweep_lands_on_a_queue(template):
    props = template.properties("ReconcileFunction")
    assert props["ReservedConcurrentExecutions"] == 1
    schedule = props["Events"]["EveryMinute"]["Properties"]
    assert schedule["Schedule"] == "rate(1 minute)" and props["Timeout"] < 60  # done before the next tick
    assert props["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]["Type"] == "SQS"
    assert props["EventInvokeConfig"]["MaximumRetryAttempts"] == 0
    assert schedule["DeadLetterConfig"]["Type"] == "SQS"  # a tick EventBridge could not deliver


def test_given_the_websocket_stage_when_routes_change_then_a_redeploy_reaches_it(template):
    stage = template.properties("WebSocketStage")
    assert stage["AutoDeploy"] is True and "DeploymentId" not in stage
    # A Deployment resource is replaced only when its own properties change: routes added later
    # would never reach the stage.
    assert list(template.resources_of("AWS::ApiGatewayV2::Deployment")) == []


@pytest.mark.parametrize("parameter", ["ReplicateApiTokenParameterName", "WebhookSecretsParameterName",
                                       "TicketSecretParameterName"])
def test_given_an_ssm_parameter_name_when_it_lacks_its_leading_slash_then_cloudformation_refuses_it(template, parameter):
    # The policies build "arn:...:parameter${Name}": a name without "/" would make a wrong ARN.
    spec = template.data["Parameters"][parameter]
    pattern = re.compile(spec["AllowedPattern"])
    assert pattern.fullmatch(spec["Default"])
    assert not pattern.fullmatch(spec["Default"].lstrip("/"))
    assert not pattern.fullmatch("/car-marketplace/token with space")


def test_given_each_function_when_its_environment_is_read_then_no_function_names_the_state_machine_by_reference(template):
    # A !Ref/!GetAtt of the machine from a function the HTTP API routes to closes a loop CloudFormation
    # refuses (HttpApi -> ApiFunction -> BatchStateMachine -> RunPredictionFunction -> HttpApi).
    for logical_id, _ in template.resources_of("AWS::Serverless::Function"):
        text = repr(template.properties(logical_id))
        assert "BatchStateMachine" not in text, logical_id
