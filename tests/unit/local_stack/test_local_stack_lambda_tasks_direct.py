"""A Lambda Task state of the interpreter calls the stack's dispatch directly
(`lambda_tasks_invoke_directly`), not through moto's own HTTP Invoke: every answer (a result, a
function error, Lambda's payload limits, a function the stack does not run) is the one moto's way
gives, and only the unusual ones still take moto's way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.aws_limits import LAMBDA_SYNC_REQUEST_LIMIT_BYTES, LAMBDA_SYNC_RESPONSE_MAX_BYTES
from local_stack.lambdas import Functions, MotoLambdaDispatch
from local_stack.model import StackModel
from tests.support.function_specs import function_spec

pytestmark = pytest.mark.unit

HANDLER = """
CALLS = []


def handler(event, context):
    CALLS.append(event)
    if event.get("fail"):
        raise ValueError("the handler refused")
    if "result_bytes" in event:
        return "x" * (event["result_bytes"] - 2)  # a JSON string: two quotes around it
    return {"seen": event}
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function:Fn"


@pytest.fixture
def functions(tmp_path: Path) -> Iterator[Functions]:
    model = StackModel(template=None, root=tmp_path, functions={"Fn": function_spec(tmp_path, HANDLER)},  # type: ignore[arg-type]
                       http_apis={}, http_routes=[], websocket=None, schedules=[])
    functions = Functions(model)
    dispatch = MotoLambdaDispatch(functions, lambda _fn, _exc: None)
    with mock_aws(config={"lambda": {"use_docker": False}}):  # the stack's moto config: Lambda without Docker
        dispatch.install()
        try:
            yield functions
        finally:
            dispatch.uninstall()


def invoke(parameters: dict[str, Any]) -> Any:
    """What the Task state keeps of an invoke (as `execute_lambda_function_integration` keeps it),
    or the error it raised."""
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_tasks
    from moto.stepfunctions.parser.api import InvocationResponse
    from moto.utilities.collections import select_from_typed_dict

    try:
        answer = lambda_tasks._invoke_lambda_function(parameters=dict(parameters), region="us-east-1", state_credentials=None)
    except ClientError as error:
        return error.response["Error"]
    return select_from_typed_dict(typed_dict=InvocationResponse, obj=answer)


CASES = {
    "a result": {"FunctionName": "Fn", "Payload": b'{"a": [1, "\\u00e9"]}'},
    "by its ARN": {"FunctionName": ARN, "Payload": b"{}"},
    "a function error": {"FunctionName": "Fn", "Payload": b'{"fail": true}'},
    "a response past the limit": {"FunctionName": "Fn",
                                  "Payload": f'{{"result_bytes": {LAMBDA_SYNC_RESPONSE_MAX_BYTES + 1}}}'.encode()},
    "a request past the limit": {"FunctionName": "Fn", "Payload": b'"' + b"x" * LAMBDA_SYNC_REQUEST_LIMIT_BYTES + b'"'},
    "another function": {"FunctionName": "NotTheStacks", "Payload": b"{}"},
    "an Event invoke": {"FunctionName": "Fn", "Payload": b"{}", "InvocationType": "Event"},
}
THROUGH_MOTO = {"a request past the limit", "another function", "an Event invoke"}


def test_given_direct_lambda_tasks_then_every_answer_is_the_one_motos_invoke_gives(functions: Functions) -> None:
    from moto.awslambda.responses import LambdaResponse

    from local_stack.moto_speedups import lambda_tasks_invoke_directly

    expected = {name: invoke(parameters) for name, parameters in CASES.items()}
    assert expected["a result"]["Payload"] == {"seen": {"a": [1, "é"]}}
    assert expected["a function error"]["FunctionError"] == "Unhandled"
    assert expected["a response past the limit"]["Payload"]["errorType"] == "Function.ResponseSizeTooLarge"
    assert expected["a request past the limit"]["Code"] == "RequestEntityTooLargeException"
    for name, parameters in CASES.items():
        with lambda_tasks_invoke_directly(), mock.patch.object(
                LambdaResponse, "invoke", autospec=True, side_effect=LambdaResponse.invoke) as through_moto:
            assert invoke(parameters) == expected[name], name
        assert through_moto.called == (name in THROUGH_MOTO), name


def test_given_a_request_past_the_limit_when_invoked_directly_then_the_handler_never_runs(functions: Functions) -> None:
    from local_stack.moto_speedups import lambda_tasks_invoke_directly

    with lambda_tasks_invoke_directly():
        invoke(CASES["a request past the limit"])
    assert functions.handler("Fn").__globals__["CALLS"] == []
