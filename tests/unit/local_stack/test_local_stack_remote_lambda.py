"""Lambda's Invoke across processes (moto in its own process): `RemoteLambdaDispatch` in moto's
process posts to the stack's `LambdaInvokeServer`, with the answers of `MotoLambdaDispatch`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.lambdas import Functions
from local_stack.model import StackModel
from local_stack.remote_lambda import LambdaInvokeServer, RemoteLambdaDispatch
from local_stack.template import Template

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parents[2] / "integration" / "local_stack" / "fixture"


@pytest.fixture
def remote() -> Iterator[tuple[RemoteLambdaDispatch, list[tuple[str, BaseException]], Functions]]:
    model = StackModel.from_template(Template.load(FIXTURE / "template.yaml"), FIXTURE)
    functions = Functions(model)
    errors: list[tuple[str, BaseException]] = []
    server = LambdaInvokeServer(functions, lambda fn, exc: errors.append((fn, exc)))
    server.start()
    names = [spec.name for spec in model.functions.values()]
    dispatch = RemoteLambdaDispatch(names, server.url)
    dispatch.install()
    try:
        yield dispatch, errors, functions
    finally:
        dispatch.uninstall()
        server.stop()


def test_given_a_template_function_by_arn_then_the_stack_runs_its_handler(remote: Any) -> None:
    d, errors, _ = remote
    arn = "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    headers: dict[str, str] = {}
    out = d.moto_invoke(None, arn, None, json.dumps({"describe": {"x": 1}}), {}, headers)
    assert json.loads(out) == {"function": "EchoFunction", "got": {"x": 1}}
    assert "x-amz-function-error" not in headers and errors == []


def test_given_a_raising_handler_then_the_function_error_document_and_header(remote: Any) -> None:
    d, errors, _ = remote
    headers: dict[str, str] = {}
    out = d.moto_invoke(None, "TaskFunction", None, json.dumps({"mode": "raise"}), {}, headers)
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(out)["errorType"] == "CustomTaskError"
    assert errors and errors[0][0] == "TaskFunction"  # reported in the stack's process


def test_given_a_request_over_the_limit_then_413_before_it_leaves_moto(remote: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.exceptions import AWSError

    from local_stack.aws_limits import LAMBDA_SYNC_REQUEST_LIMIT_BYTES

    d, _, _ = remote
    monkeypatch.setattr(d, "call", lambda *args: pytest.fail("sent to the stack"))
    payload = json.dumps({"a": "x" * LAMBDA_SYNC_REQUEST_LIMIT_BYTES}).encode()
    with pytest.raises(AWSError) as refused:
        d.moto_invoke(None, "EchoFunction", None, payload, {}, {})
    assert refused.value.code == 413


def test_given_the_stack_refuses_the_size_then_413_in_moto(remote: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.exceptions import AWSError

    from local_stack.lambdas import RequestTooLargeError

    d, _, functions = remote

    def too_large(fn: str, event: Any) -> bytes:
        raise RequestTooLargeError(7_000_000)

    monkeypatch.setattr(functions, "invoke_raw", too_large)  # the stack measures the re-serialised event
    with pytest.raises(AWSError) as refused:
        d.moto_invoke(None, "EchoFunction", None, "{}", {}, {})
    assert refused.value.code == 413
    assert "6291456 bytes for the InvokeFunction operation" in refused.value.get_body()


def test_given_an_event_invocation_then_it_answers_at_once_and_runs(remote: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    d, _, functions = remote
    ran = threading.Event()
    monkeypatch.setattr(functions, "invoke_raw", lambda fn, event: (ran.set(), b"{}")[1])
    assert d.moto_invoke(None, "EchoFunction", None, "{}", {"X-Amz-Invocation-Type": "Event"}, {}) == b""
    assert ran.wait(5)


def test_given_a_function_not_in_the_template_then_moto_keeps_it(remote: Any) -> None:
    d, _, _ = remote
    assert d.resolve("Other") is None
    assert d.moto_invoke(type("B", (), {"lambda_simple_results_queue": []})(), "Other", None, "hi", {}, {}) == b"hi"


def test_given_invokes_on_one_kept_connection_then_the_server_sends_answers_without_delay(
        remote: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An answer is headers, then payload: with Nagle's algorithm the payload waited for moto's
    delayed ACK of the headers, 44 ms an invoke on a kept-alive connection."""
    import socket

    from local_stack import remote_lambda

    no_delay: list[int] = []
    setup = remote_lambda._Handler.setup

    def recording_setup(handler: Any) -> None:
        setup(handler)
        no_delay.append(handler.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    monkeypatch.setattr(remote_lambda._Handler, "setup", recording_setup)
    d, errors, _ = remote
    for _ in range(3):
        out = d.moto_invoke(None, "EchoFunction", None, json.dumps({"describe": {"x": 1}}), {}, {})
        assert json.loads(out)["got"] == {"x": 1}
    assert no_delay and all(no_delay) and errors == []
    assert len(no_delay) == 1  # one connection served all three
