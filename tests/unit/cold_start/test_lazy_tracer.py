"""The Tracer moved from import to the first invocation still traces in Lambda: the handler's
subsegment with its ColdStart annotation, and the AWS calls made during the invocation (botocore
patched when it is imported, after the Tracer). Elsewhere no Tracer is built at all."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from marketplace import observability
from tests.support.cold_start import LAYER, ROOT, lambda_environment
from tests.support.lambdas import FakeLambdaContext

pytestmark = pytest.mark.unit

TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# Runs in a fresh interpreter: X-Ray's patches are process-wide and must not reach other tests.
# The emitter is swapped for a list (no UDP to a daemon); the DynamoDB call is stubbed.
_INVOKE_TWICE = """
import json, sys
sys.path[:0] = [{root!r}, {layer!r}]
from marketplace import observability
from tests.support.lambdas import FakeLambdaContext

xray_at_import = "aws_xray_sdk" in sys.modules
sent = []

class Emitter:
    def send_entity(self, entity):
        sent.append(entity)

    def set_daemon_address(self, address):
        pass

@observability.lambda_entry()
def handler(event, context):
    from aws_xray_sdk.core import xray_recorder
    xray_recorder.emitter = Emitter()
    import boto3
    from botocore.stub import Stubber
    client = boto3.client("dynamodb")
    with Stubber(client) as stub:
        stub.add_response("list_tables", {{"TableNames": []}})
        client.list_tables()
    return event["n"]

answers = [handler({{"n": n}}, FakeLambdaContext()) for n in (1, 2)]
print(json.dumps({{
    "xray_at_import": xray_at_import,
    "answers": answers,
    "one_tracer": observability.get_tracer() is observability.get_tracer(),
    "subsegments": [
        {{"name": entity.name, "namespace": getattr(entity, "namespace", ""), "annotations": entity.annotations}}
        for entity in sent
    ],
}}))
"""


def invoke_twice_in_lambda() -> dict[str, Any]:
    env = {**lambda_environment("websocket"), "_X_AMZN_TRACE_ID": TRACE_ID}
    script = _INVOKE_TWICE.format(root=str(ROOT), layer=str(LAYER))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_given_tracing_on_in_lambda_when_a_handler_is_invoked_twice_then_each_invocation_and_its_aws_call_are_traced() -> None:
    result = invoke_twice_in_lambda()

    assert result["xray_at_import"] is False
    assert result["answers"] == [1, 2]
    assert result["one_tracer"] is True
    handler_segments = [s for s in result["subsegments"] if s["name"] == "## handler"]
    assert [s["annotations"]["ColdStart"] for s in handler_segments] == [True, False]
    assert all(s["annotations"]["Service"] == "car-marketplace" for s in handler_segments)
    aws_calls = [s for s in result["subsegments"] if s["namespace"] == "aws"]
    assert [s["name"].lower() for s in aws_calls] == ["dynamodb", "dynamodb"]


@pytest.fixture
def fresh_tracer() -> Iterator[None]:
    observability.reset_tracer()
    yield
    observability.reset_tracer()


@pytest.mark.usefixtures("fresh_tracer")
@pytest.mark.parametrize("env", [{"POWERTOOLS_TRACE_DISABLED": "true", "LAMBDA_TASK_ROOT": "/var/task"}, {}])
def test_given_tracing_off_when_a_handler_is_invoked_then_it_answers_and_no_tracer_is_built(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for name in ("POWERTOOLS_TRACE_DISABLED", "LAMBDA_TASK_ROOT", "AWS_SAM_LOCAL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    @observability.lambda_entry()
    def handler(event: dict[str, Any], context: object) -> str:
        return "answered"

    assert handler({}, FakeLambdaContext()) == "answered"
    assert observability.get_tracer() is None
