"""In-process Lambda: handler loading, the runtime's serialisation and errors, and the
replacement of moto's Lambda `invoke` — no sockets."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from local_stack.environment import LocalSecrets, local_environment
from local_stack.lambdas import Functions, LambdaContext, MotoLambdaDispatch, error_payload, load_handler, to_wire
from local_stack.model import StackModel
from local_stack.template import Template
from tests.support.function_specs import function_spec

pytestmark = pytest.mark.unit

FIXTURE = Path(__file__).resolve().parents[2] / "integration" / "local_stack" / "fixture"


spec = function_spec


def test_functions_with_same_module_names_coexist(tmp_path: Path) -> None:
    one = spec(tmp_path, "from helpers import NAME\ndef handler(e, c):\n    return NAME\n", "One", helpers="NAME = 1")
    two = spec(tmp_path, "from helpers import NAME\ndef handler(e, c):\n    return NAME\n", "Two", helpers="NAME = 2")
    assert load_handler(one)({}, None) == 1
    assert load_handler(two)({}, None) == 2
    assert load_handler(one)({}, None) == 1


def test_handler_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ImportError, match=r"module\.function"):
        load_handler(spec(tmp_path, "", "A", handler="handler"))
    with pytest.raises(ImportError, match="no missing"):
        load_handler(spec(tmp_path, "", "B", handler="missing.handler"))
    with pytest.raises(ImportError, match="not a callable"):
        load_handler(spec(tmp_path, "handler = 3\n", "C"))


def test_context_is_what_powertools_reads(tmp_path: Path) -> None:
    context = LambdaContext(spec(tmp_path, ""))
    assert context.function_name == "Fn"
    assert context.memory_limit_in_mb == 512
    assert context.invoked_function_arn.endswith(":function:Fn")
    assert len(context.aws_request_id) == 36
    assert 6000 < context.get_remaining_time_in_millis() <= 7000


def test_serialisation_and_error_documents() -> None:
    assert json.loads(to_wire({"n": Decimal("2"), "f": Decimal("1.5")})) == {"n": 2, "f": 1.5}
    with pytest.raises(Exception, match="marshal") as caught:
        to_wire({"x": object()})
    assert error_payload(caught.value)["errorType"] == "Runtime.MarshalError"

    class ReplicateRateLimited(Exception):
        pass

    try:
        raise ReplicateRateLimited("slow down")
    except ReplicateRateLimited as exc:
        payload = error_payload(exc)
    assert payload["errorType"] == "ReplicateRateLimited"
    assert payload["errorMessage"] == "slow down"
    assert payload["stackTrace"]


@pytest.fixture
def dispatch():
    model = StackModel.from_template(Template.load(FIXTURE / "template.yaml"), FIXTURE)
    functions = Functions(model)
    errors: list[tuple[str, BaseException]] = []
    dispatch = MotoLambdaDispatch(functions, lambda fn, exc: errors.append((fn, exc)))
    dispatch.install()
    yield dispatch, errors
    dispatch.uninstall()


def test_moto_invoke_is_replaced_and_restored(dispatch) -> None:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    d, _ = dispatch
    assert LambdaSimpleBackend.invoke.__wrapped__ is d._original
    d.uninstall()
    assert not hasattr(LambdaSimpleBackend.invoke, "__wrapped__")
    d.install()


def test_moto_invoke_runs_the_real_handler(dispatch) -> None:
    d, _ = dispatch
    arn = "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    headers: dict[str, str] = {}
    out = d.moto_invoke(None, arn, None, json.dumps({"describe": {"x": 1}}), {}, headers)
    assert json.loads(out) == {"function": "EchoFunction", "got": {"x": 1}}
    assert "x-amz-function-error" not in headers


def test_moto_invoke_reports_function_errors_by_class_name(dispatch) -> None:
    d, errors = dispatch
    headers: dict[str, str] = {}
    out = d.moto_invoke(None, "TaskFunction", None, json.dumps({"mode": "raise"}), {}, headers)
    assert headers["x-amz-function-error"] == "Unhandled"
    assert json.loads(out)["errorType"] == "CustomTaskError"
    assert errors and errors[0][0] == "TaskFunction"


def test_moto_invoke_event_type_is_asynchronous(dispatch, monkeypatch: pytest.MonkeyPatch) -> None:
    d, _ = dispatch
    seen = threading.Event()
    monkeypatch.setattr(d.functions, "invoke_raw", lambda fn, event: (time.sleep(0.05), seen.set(), b"{}")[2])
    started = time.perf_counter()
    out = d.moto_invoke(None, "EchoFunction", None, "{}", {"X-Amz-Invocation-Type": "Event"}, {})
    assert out == b"" and time.perf_counter() - started < 0.05
    assert seen.wait(2)


def test_moto_invoke_of_an_unknown_function_keeps_moto_behaviour(dispatch) -> None:
    d, _ = dispatch
    assert d.moto_invoke(type("B", (), {"lambda_simple_results_queue": []})(), "Other", None, "hi", {}, {}) == b"hi"


def test_local_environment_precedence() -> None:
    secrets = LocalSecrets.generate()
    env = local_environment(
        {"TABLE_NAME": "t", "REPLICATE_API_TOKEN_PARAM": "/p", "OTHER_PARAM": "/o", "GLOBAL_PROMPTS_CSV_URL": "https://x"},
        host="127.0.0.1",
        port=3000,
        standin_port=3100,
        moto_port=3200,
        secrets_=secrets,
        shell={"ANGLE_PRESETS_CSV_URL": "http://mine/angles.csv", "TABLE_NAME": "ignored", "NO_PROXY": "corp"},
        overrides={"TABLE_NAME": "explicit"},
    )
    assert env["TABLE_NAME"] == "explicit"
    assert env["DEV_MODE"] == "true"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:3200"
    assert env["WEBSOCKET_URL"] == "ws://127.0.0.1:3000/ws"
    assert env["WEBSOCKET_MANAGEMENT_URL"] == "http://127.0.0.1:3000"
    assert env["WEBHOOK_URL"] == "http://127.0.0.1:3000/webhooks/replicate"
    assert env["GLOBAL_PROMPTS_CSV_URL"] == "http://127.0.0.1:3000/_local/presets/global_prompts.csv"
    assert env["ANGLE_PRESETS_CSV_URL"] == "http://mine/angles.csv"
    assert env["REPLICATE_BASE_URL"] == "http://127.0.0.1:3100"
    assert env["REPLICATE_OUTPUT_HOSTS"] == "127.0.0.1:3100"
    assert env["REPLICATE_API_TOKEN"] == env["STANDIN_API_TOKEN"] == secrets.replicate_api_token
    assert env["WEBHOOK_SECRETS"] == env["STANDIN_WEBHOOK_SECRET"] == secrets.webhook_secret
    assert secrets.webhook_secret.startswith("whsec_")
    assert env["REPLICATE_API_TOKEN_PARAM"] is None  # the direct value wins
    assert env["OTHER_PARAM"] == "/o"
    assert env["POWERTOOLS_METRICS_DISABLED"] == env["POWERTOOLS_TRACE_DISABLED"] == "true"
    assert env["AWS_PROFILE"] is None
    assert env["NO_PROXY"] == "corp,127.0.0.1,localhost" and env["no_proxy"] == "127.0.0.1,localhost"
