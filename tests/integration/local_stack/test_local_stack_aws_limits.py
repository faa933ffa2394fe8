"""AWS's limits over the local stack's real sockets (fixture template): Lambda's 6 MB event and
result behind the HTTP API and behind moto's Invoke, a shortened integration timeout, Step
Functions' 256 KiB payloads, and the integer `ToleratedFailurePercentage` moto refused."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from local_stack.aws_limits import (
    HTTP_API_PAYLOAD_MAX_BYTES,
    LAMBDA_SYNC_REQUEST_LIMIT_BYTES,
    LAMBDA_SYNC_RESPONSE_MAX_BYTES,
    STEP_FUNCTIONS_PAYLOAD_MAX_BYTES,
)
from local_stack.stack import LocalStack

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).resolve().parent / "fixture"
ROLE = "arn:aws:iam::123456789012:role/states"
INTEGRATION_TIMEOUT_S = 1.0  # shorter than the fixture functions' Timeout (2 s), so the gateway gives up first
INTERNAL_ERROR = {"message": "Internal Server Error"}


@pytest.fixture(scope="module", params=[False, True], ids=["moto-in-process", "moto-process"])
def stack(request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    """Each limit holds with moto in this process and in its own (Invoke crosses processes)."""
    with LocalStack(
        quiet=True,
        template_path=FIXTURE / "template.yaml",
        root=FIXTURE,
        schedule_seconds=0,
        standin=False,
        integration_timeout_s=INTEGRATION_TIMEOUT_S,
        moto_process=request.param,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def http(stack: LocalStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.base_url, timeout=30) as client:
        yield client


# -- HTTP API in front of Lambda ------------------------------------------------------------------


def test_given_a_body_within_10_mb_whose_event_is_over_6_mb_when_posted_then_413_request_too_long(
    http: httpx.Client,
) -> None:
    response = http.post("/echo", content=b"x" * (7 * 1024 * 1024), headers={"content-type": "text/plain"})
    assert (response.status_code, response.json()) == (413, {"message": "Request Too Long"})
    over_api_gateway = http.post("/echo", content=b"x" * (HTTP_API_PAYLOAD_MAX_BYTES + 1))
    assert (over_api_gateway.status_code, over_api_gateway.json()) == (413, {"message": "Request Entity Too Large"})


def test_given_a_handler_result_over_6_mb_when_requested_then_500_internal_server_error(http: httpx.Client) -> None:
    response = http.get("/behave/huge", params={"bytes": 7_000_000})
    assert (response.status_code, response.json()) == (500, INTERNAL_ERROR)


def test_given_a_shortened_integration_timeout_when_a_handler_overruns_it_then_503_service_unavailable(
    http: httpx.Client,
) -> None:
    started = time.perf_counter()
    response = http.get("/behave/sleep")  # sleeps 3 s; its function's Timeout is 2 s
    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})
    assert INTEGRATION_TIMEOUT_S <= time.perf_counter() - started < 1.8


# -- moto's Lambda Invoke (what the state machine calls) ---------------------------------------------


def test_given_an_invoke_request_of_6_mb_when_invoked_then_413_request_entity_too_large(stack: LocalStack) -> None:
    payload = json.dumps("x" * (LAMBDA_SYNC_REQUEST_LIMIT_BYTES - 2)).encode()
    with pytest.raises(ClientError) as refused:
        stack.client("lambda").invoke(FunctionName="EchoFunction", Payload=payload)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert error["Error"]["Code"] == "RequestEntityTooLargeException"
    assert error["Error"]["Message"] == "Request must be smaller than 6291456 bytes for the InvokeFunction operation"


def test_given_invoke_results_around_lambdas_limit_then_only_the_one_over_6291556_bytes_is_a_function_error(
    stack: LocalStack,
) -> None:
    lambda_ = stack.client("lambda")
    returned = lambda_.invoke(FunctionName="EchoFunction", Payload=json.dumps({"huge": LAMBDA_SYNC_RESPONSE_MAX_BYTES}))
    assert "FunctionError" not in returned and len(returned["Payload"].read()) == LAMBDA_SYNC_RESPONSE_MAX_BYTES

    refused = lambda_.invoke(FunctionName="EchoFunction", Payload=json.dumps({"huge": LAMBDA_SYNC_RESPONSE_MAX_BYTES + 1}))
    assert refused["FunctionError"] == "Unhandled"
    assert json.loads(refused["Payload"].read()) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


# -- Step Functions ------------------------------------------------------------------------------


def wait_for_end(stack: LocalStack, execution_arn: str) -> dict:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.05)
    raise AssertionError(f"{execution_arn} still running")


def test_given_an_execution_input_over_256_kib_when_started_on_the_stack_then_validation_exception(stack: LocalStack) -> None:
    machine = stack.resources.state_machines["Machine"]
    over = json.dumps({"mode": "ok", "value": "x" * STEP_FUNCTIONS_PAYLOAD_MAX_BYTES})
    with pytest.raises(ClientError) as refused:
        stack.client("stepfunctions").start_execution(stateMachineArn=machine, name="too-big", input=over)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_given_a_callback_output_over_256_kib_when_sent_on_the_stack_then_validation_exception(stack: LocalStack) -> None:
    output = json.dumps("x" * STEP_FUNCTIONS_PAYLOAD_MAX_BYTES)
    with pytest.raises(ClientError) as refused:
        stack.client("stepfunctions").send_task_success(taskToken="token", output=output)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_given_a_lambda_result_over_256_kib_in_a_task_then_the_execution_fails_with_data_limit_exceeded_uncaught(
    stack: LocalStack,
) -> None:
    definition = {
        "StartAt": "Big",
        "States": {
            "Big": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "EchoFunction", "Payload": {"huge": STEP_FUNCTIONS_PAYLOAD_MAX_BYTES + 1}},
                "OutputPath": "$.Payload",
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}],  # a terminal error: not caught
                "End": True,
            },
            "Caught": {"Type": "Pass", "Result": "caught", "End": True},
        },
    }
    sfn = stack.client("stepfunctions")
    arn = sfn.create_state_machine(name="big-result", roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]
    execution = wait_for_end(stack, sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex)["executionArn"])
    assert (execution["status"], execution["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_given_a_distributed_map_with_tolerated_failure_percentage_100_when_run_on_the_stack_then_it_succeeds(
    stack: LocalStack,
) -> None:
    definition = {
        "StartAt": "EachItem",
        "States": {
            "EachItem": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                    "StartAt": "Describe",
                    "States": {
                        "Describe": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": "EchoFunction", "Payload": {"describe.$": "$"}},
                            "ResultSelector": {"got.$": "$.Payload.got"},
                            "End": True,
                        }
                    },
                },
                "ToleratedFailurePercentage": 100,
                "End": True,
            }
        },
    }
    sfn = stack.client("stepfunctions")
    arn = sfn.create_state_machine(name="tolerant", roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]
    started = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=json.dumps({"items": [1, 2]}))
    execution = wait_for_end(stack, started["executionArn"])
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == [{"got": 1}, {"got": 2}]


def test_given_the_stack_running_then_its_own_process_splits_http_headers_directly(stack: LocalStack) -> None:
    """Every AWS answer the handlers get (botocore over http.client) and every invoke the stack
    serves has its headers split directly, and botocore cleans its user agent's parts once, with
    moto in this process or in its own."""
    import http.client

    import botocore.useragent

    from local_stack.moto_speedups import SPEEDUP

    assert getattr(http.client.parse_headers, SPEEDUP, False)
    assert getattr(botocore.useragent.sanitize_user_agent_string_component, SPEEDUP, False)
