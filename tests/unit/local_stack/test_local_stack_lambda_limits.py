"""The in-process Lambda keeps Lambda's synchronous payload limits: a request of 6,291,456 bytes
or more is refused before the handler runs (RequestEntityTooLargeException, 413), a result over
6,291,556 bytes becomes Lambda's Function.ResponseSizeTooLarge function error — both for direct
calls and for moto's Invoke (what the state machine calls). No sockets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_stack.aws_limits import LAMBDA_SYNC_REQUEST_LIMIT_BYTES, LAMBDA_SYNC_RESPONSE_MAX_BYTES
from local_stack.lambdas import (
    Functions,
    MotoLambdaDispatch,
    RequestTooLargeError,
    ResponseTooLargeError,
    error_payload,
)
from local_stack.model import StackModel
from tests.support.function_specs import function_spec

pytestmark = pytest.mark.unit

HANDLER = """
CALLS = []


def handler(event, context):
    CALLS.append(len(event) if isinstance(event, str) else event)
    if isinstance(event, dict) and "result_bytes" in event:
        return "x" * (event["result_bytes"] - 2)  # a JSON string: two quotes around it
    return "ok"
"""


@pytest.fixture
def functions(tmp_path: Path) -> Functions:
    spec = function_spec(tmp_path, HANDLER, timeout_s=10)
    model = StackModel(
        template=None,  # type: ignore[arg-type]  # Functions reads only the functions
        root=tmp_path,
        functions={"Fn": spec},
        http_apis={},
        http_routes=[],
        websocket=None,
        schedules=[],
    )
    return Functions(model)


def calls(functions: Functions) -> list:
    return functions.handler("Fn").__globals__["CALLS"]


def event_of(size: int) -> str:
    """An event whose JSON payload is exactly `size` bytes (a string: two quotes around it)."""
    return "x" * (size - 2)


def test_given_a_request_of_lambdas_limit_or_more_when_invoked_then_refused_before_the_handler(functions: Functions) -> None:
    with pytest.raises(RequestTooLargeError, match="Request must be smaller than 6291456 bytes for the InvokeFunction operation"):
        functions.invoke_raw("Fn", event_of(LAMBDA_SYNC_REQUEST_LIMIT_BYTES))
    assert calls(functions) == []
    assert functions.invoke("Fn", event_of(LAMBDA_SYNC_REQUEST_LIMIT_BYTES - 1)) == "ok"
    assert calls(functions) == [LAMBDA_SYNC_REQUEST_LIMIT_BYTES - 3]


def test_given_a_request_with_multibyte_characters_then_its_utf8_bytes_are_measured(functions: Functions) -> None:
    with pytest.raises(RequestTooLargeError):
        functions.invoke_raw("Fn", "é" * (LAMBDA_SYNC_REQUEST_LIMIT_BYTES // 2))  # half the characters, all the bytes


def test_given_a_result_over_lambdas_limit_when_invoked_then_response_size_too_large(functions: Functions) -> None:
    assert len(functions.invoke_raw("Fn", {"result_bytes": LAMBDA_SYNC_RESPONSE_MAX_BYTES})) == LAMBDA_SYNC_RESPONSE_MAX_BYTES
    with pytest.raises(ResponseTooLargeError) as refused:
        functions.invoke_raw("Fn", {"result_bytes": LAMBDA_SYNC_RESPONSE_MAX_BYTES + 1})
    assert error_payload(refused.value) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge",
    }


@pytest.fixture
def dispatch(functions: Functions):
    errors: list[tuple[str, BaseException]] = []
    dispatch = MotoLambdaDispatch(functions, lambda fn, exc: errors.append((fn, exc)))
    dispatch.install()
    yield dispatch, errors
    dispatch.uninstall()


def test_given_moto_invoke_with_a_request_over_the_limit_then_413_request_entity_too_large(dispatch, functions) -> None:
    from moto.core.exceptions import AWSError

    d, _ = dispatch
    payload = json.dumps(event_of(LAMBDA_SYNC_REQUEST_LIMIT_BYTES)).encode()
    with pytest.raises(AWSError) as refused:
        d.moto_invoke(None, "Fn", None, payload, {}, {})
    assert refused.value.code == 413
    assert json.loads(refused.value.get_body()) == {
        "__type": "RequestEntityTooLargeException",
        "message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    }
    assert calls(functions) == []


def test_given_moto_invoke_with_a_result_over_the_limit_then_the_function_error_response_size_too_large(dispatch) -> None:
    d, errors = dispatch
    headers: dict[str, str] = {}
    out = d.moto_invoke(None, "Fn", None, json.dumps({"result_bytes": LAMBDA_SYNC_RESPONSE_MAX_BYTES + 1}), {}, headers)
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(out)["errorType"] == "Function.ResponseSizeTooLarge"
    assert isinstance(errors[0][1], ResponseTooLargeError)
