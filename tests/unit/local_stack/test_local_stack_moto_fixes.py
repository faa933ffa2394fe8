"""The corrections the local stack applies to moto for Lambda and Step Functions (moto in-process,
no sockets): Step Functions' 256 KiB payload limit answered as AWS answers it, the 1 MB request
limit, exact Lambda response sizes, and the integer `ToleratedFailurePercentage`."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from local_stack.aws_limits import LAMBDA_SYNC_RESPONSE_MAX_BYTES, STEP_FUNCTIONS_PAYLOAD_MAX_BYTES
from local_stack.moto_fixes import (
    as_float_tolerated_failure_percentage,
    exact_lambda_response_limit,
    integer_tolerated_failure_percentage,
    step_functions_api_limits,
    step_functions_state_payload_limit,
)
from local_stack.moto_speedups import SPEEDUP

pytestmark = pytest.mark.unit

ROLE = "arn:aws:iam::123456789012:role/states"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
ADD_FIELD = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"a.$": "$.a", "b": "y"}, "End": True}}}
DISTRIBUTED_MAP = {
    "StartAt": "EachItem",
    "States": {
        "EachItem": {
            "Type": "Map",
            "ItemsPath": "$.items",
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Done",
                "States": {"Done": {"Type": "Pass", "Result": {}, "End": True}},
            },
            "ToleratedFailurePercentage": 100,
            "End": True,
        }
    },
}


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def sized(size: int, char: str = "x") -> str:
    """A JSON document `{"a":"xxx…"}` of exactly `size` UTF-8 bytes."""
    return compact({"a": char * ((size - len(compact({"a": ""}))) // len(char.encode()))})


@pytest.fixture
def sfn() -> Iterator[Any]:
    with (
        mock_aws(config={"stepfunctions": {"execute_state_machine": True}}),
        step_functions_api_limits(),
        step_functions_state_payload_limit(),
        integer_tolerated_failure_percentage(),
    ):
        yield boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")


def machine(sfn: Any, definition: dict, name: str = "m") -> str:
    return sfn.create_state_machine(name=name, roleArn=ROLE, definition=json.dumps(definition))["stateMachineArn"]


def run(sfn: Any, arn: str, execution_input: str) -> dict:
    """Start an execution (named: moto does not name them) and wait for its end."""
    execution_arn = sfn.start_execution(stateMachineArn=arn, name=uuid.uuid4().hex, input=execution_input)["executionArn"]
    return finished(sfn, execution_arn)


def finished(sfn: Any, execution_arn: str) -> dict:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return execution
        time.sleep(0.02)
    raise AssertionError("still running")


def error_of(call: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response
    return error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"], error["Error"]["Message"]


def too_long(field: str) -> str:
    return (
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
        "Member must have length less than or equal to 262144"
    )


# -- StartExecution / SendTaskSuccess ----------------------------------------------------------


def test_given_an_execution_input_over_256_kib_when_started_then_validation_exception(sfn: Any) -> None:
    arn = machine(sfn, PASS)
    over = sized(STEP_FUNCTIONS_PAYLOAD_MAX_BYTES + 1)
    refused = error_of(lambda: sfn.start_execution(stateMachineArn=arn, input=over))
    assert refused == (400, "ValidationException", too_long("input"))
    assert run(sfn, arn, sized(STEP_FUNCTIONS_PAYLOAD_MAX_BYTES))["status"] == "SUCCEEDED"


def test_given_an_input_under_256_ki_characters_but_over_256_kib_in_utf8_then_refused(sfn: Any) -> None:
    arn = machine(sfn, PASS)
    accented = sized(STEP_FUNCTIONS_PAYLOAD_MAX_BYTES + 2, "é")
    assert len(accented) < STEP_FUNCTIONS_PAYLOAD_MAX_BYTES < len(accented.encode())
    assert error_of(lambda: sfn.start_execution(stateMachineArn=arn, input=accented))[1] == "ValidationException"


def test_given_a_task_output_over_256_kib_when_sent_then_validation_exception_before_the_token(sfn: Any) -> None:
    over = sized(STEP_FUNCTIONS_PAYLOAD_MAX_BYTES + 1)
    refused = error_of(lambda: sfn.send_task_success(taskToken="t", output=over))
    assert refused == (400, "ValidationException", too_long("output"))
    at_limit = sized(STEP_FUNCTIONS_PAYLOAD_MAX_BYTES)
    assert error_of(lambda: sfn.send_task_success(taskToken="t", output=at_limit))[1] == "InvalidToken"  # then looked up


def test_given_a_request_over_1_mb_then_413_as_step_functions_answers_it(sfn: Any) -> None:
    arn = machine(sfn, PASS)
    status, _, message = error_of(lambda: sfn.start_execution(stateMachineArn=arn, input=sized(2 * 1024 * 1024)))
    assert (status, message) == (413, "HTTP content length exceeded 1049600 bytes.")


# -- state results: States.DataLimitExceeded -------------------------------------------------------


def test_given_a_state_output_of_exactly_256_kib_then_it_passes_and_one_byte_more_fails_the_execution(sfn: Any) -> None:
    arn = machine(sfn, ADD_FIELD)
    pad = "x" * (STEP_FUNCTIONS_PAYLOAD_MAX_BYTES - len(compact({"a": "", "b": "y"})))
    assert len(compact({"a": pad, "b": "y"}).encode()) == STEP_FUNCTIONS_PAYLOAD_MAX_BYTES  # the state's output
    assert run(sfn, arn, compact({"a": pad}))["status"] == "SUCCEEDED"

    one_over = compact({"a": pad + "x"})  # the input is well under the limit, the output one byte over it
    failed = run(sfn, arn, one_over)
    assert (failed["status"], failed["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert failed["cause"] == (
        "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."
    )


# -- ToleratedFailurePercentage as an integer ---------------------------------------------------


def test_given_a_distributed_map_with_an_integer_tolerated_failure_percentage_then_it_is_created_and_runs(sfn: Any) -> None:
    arn = machine(sfn, DISTRIBUTED_MAP)
    execution = run(sfn, arn, json.dumps({"items": [1, 2, 3]}))
    assert execution["status"] == "SUCCEEDED" and json.loads(execution["output"]) == [{}, {}, {}]
    stored = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    assert stored["States"]["EachItem"]["ToleratedFailurePercentage"] == 100  # the definition is kept as written


def test_given_moto_without_the_fix_then_the_integer_is_refused() -> None:
    """Documents the divergence the fix corrects (if moto fixes it upstream, drop the fix)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    with pytest.raises(ASLParserException, match="ToleratedFailurePercentage"):
        AmazonStateLanguageParser.parse(json.dumps(DISTRIBUTED_MAP))
    with integer_tolerated_failure_percentage():
        AmazonStateLanguageParser.parse(json.dumps(DISTRIBUTED_MAP))
    with pytest.raises(ASLParserException):
        AmazonStateLanguageParser.parse(json.dumps(DISTRIBUTED_MAP))  # restored on exit


def test_given_a_definition_then_only_integer_tolerated_failure_percentages_are_rewritten() -> None:
    text = (
        '{"ToleratedFailurePercentage": 100, "ToleratedFailurePercentage":0}\n'
        '{"ToleratedFailurePercentage": 12.5, "ToleratedFailurePercentagePath": "$.p", "ToleratedFailureCount": 3,'
        ' "Comment": "\\"ToleratedFailurePercentage\\": 7", "ToleratedFailurePercentage": "{% $p %}"}'
    )
    assert as_float_tolerated_failure_percentage(text) == (
        '{"ToleratedFailurePercentage": 100.0, "ToleratedFailurePercentage":0.0}\n'
        '{"ToleratedFailurePercentage": 12.5, "ToleratedFailurePercentagePath": "$.p", "ToleratedFailureCount": 3,'
        ' "Comment": "\\"ToleratedFailurePercentage\\": 7", "ToleratedFailurePercentage": "{% $p %}"}'
    )


# -- Lambda response size ---------------------------------------------------------------------


def test_given_moto_lambda_responses_then_only_a_payload_over_6291556_bytes_is_too_large() -> None:
    """moto measures `sys.getsizeof(payload) > 6000000`; the fix makes that mean Lambda's limit."""
    import moto.awslambda.responses as responses

    with exact_lambda_response_limit():
        assert responses.sys.getsizeof(b"x" * 6_100_000) <= 6_000_000  # Lambda returns it
        assert responses.sys.getsizeof(b"x" * LAMBDA_SYNC_RESPONSE_MAX_BYTES) <= 6_000_000
        assert responses.sys.getsizeof(b"x" * (LAMBDA_SYNC_RESPONSE_MAX_BYTES + 1)) > 6_000_000
        assert responses.sys.maxsize  # everything else is the real module
    assert responses.sys.getsizeof(b"x" * 6_100_000) > 6_000_000  # moto's own measure again


# -- per-request overhead --------------------------------------------------------------------


def test_given_the_module_list_cached_then_routing_n_requests_lists_moto_folder_once() -> None:
    from unittest import mock

    import moto.backends as backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    from local_stack.moto_speedups import cached_moto_module_list

    dispatcher = DomainDispatcherApplication(create_app=lambda service: None)  # type: ignore[arg-type, return-value]
    with mock.patch.object(backends.os, "listdir", wraps=backends.os.listdir) as listdir:
        for _ in range(20):
            assert dispatcher.get_backend_for_host("dynamodb") == "dynamodb"
        assert listdir.call_count == 20  # moto itself: once per request
        listdir.reset_mock()
        with cached_moto_module_list():
            for _ in range(20):
                assert dispatcher.get_backend_for_host("dynamodb") == "dynamodb"
                assert dispatcher.get_backend_for_host("stepfunctions") == "stepfunctions"
        assert listdir.call_count == 1
    assert backends.list_of_moto_modules is not None and not getattr(backends.list_of_moto_modules, SPEEDUP, False)


def test_given_shared_clients_then_n_lambda_tasks_build_one_boto3_client(monkeypatch: pytest.MonkeyPatch) -> None:
    from unittest import mock

    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_tasks
    import moto.stepfunctions.parser.asl.utils.boto_client as boto_client
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.credentials import StateCredentials

    from local_stack.moto_speedups import STEP_FUNCTIONS_CLIENT_POOL, shared_step_functions_clients

    # What the interpreter passes every task: the execution's role (moto's clients ignore it).
    role = StateCredentials(role_arn="arn:aws:iam::123456789012:role/StateMachineRole")
    monkeypatch.setenv("MOTO_PORT", "3299")
    with mock.patch.object(boto_client.boto3, "client", wraps=boto3.client) as create:
        for _ in range(5):
            lambda_tasks.boto_client_for(region="us-east-1", service="lambda", state_credentials=None)
        assert create.call_count == 5  # moto itself: one client per task
        create.reset_mock()
        with shared_step_functions_clients():
            clients = {id(lambda_tasks.boto_client_for(region="us-east-1", service="lambda", state_credentials=role))
                       for _ in range(20)}
            client = lambda_tasks.boto_client_for(region="us-east-1", service="lambda")
            monkeypatch.setenv("MOTO_PORT", "3298")  # another stack: another client
            other = lambda_tasks.boto_client_for(region="us-east-1", service="lambda")
        assert len(clients) == 1 and other is not client
        assert create.call_count == 2
    assert client.meta.endpoint_url == "http://127.0.0.1:3299"
    assert client.meta.config.max_pool_connections == STEP_FUNCTIONS_CLIENT_POOL
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert not getattr(lambda_tasks.boto_client_for, SPEEDUP, False)


def test_given_cached_jsonpath_parsing_then_n_executions_parse_each_path_once(sfn: Any) -> None:
    from unittest import mock

    import jsonpath_ng.ext
    import moto.stepfunctions.parser.asl.utils.json_path as json_path

    from local_stack.moto_speedups import cached_jsonpath_parsing

    arn = machine(sfn, ADD_FIELD, name="jsonpath")

    def run_n(n: int) -> None:
        for _ in range(n):
            assert run(sfn, arn, json.dumps({"a": 1}))["status"] == "SUCCEEDED"

    with mock.patch.object(json_path, "parse", wraps=jsonpath_ng.ext.parse) as parse:
        run_n(3)
        assert parse.call_count >= 3  # moto itself: at least once per execution ($.a)
        uncached = parse.call_count
        parse.reset_mock()
        with cached_jsonpath_parsing():
            run_n(3)
            assert json_path.parse("$.a") is json_path.parse("$.a")
        assert 1 <= parse.call_count < uncached
        assert json_path.parse is parse  # restored


def test_given_parsed_definitions_reused_then_creation_and_n_executions_parse_the_definition_once(sfn: Any) -> None:
    from unittest import mock

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    from local_stack.moto_speedups import parsed_definitions_reused

    with mock.patch.object(AmazonStateLanguageParser, "parse", wraps=AmazonStateLanguageParser.parse) as parse:
        with parsed_definitions_reused():
            arn = machine(sfn, ADD_FIELD, name="reused")
            outputs = [run(sfn, arn, json.dumps({"a": n})) for n in range(4)]
            broken = {"StartAt": "A", "States": {"A": {"Type": "NoSuchType", "End": True}}}
            for _ in range(2):  # refused every time, as moto refuses it
                with pytest.raises(ClientError, match="ASLParserException"):
                    machine(sfn, broken, name="broken")
        assert parse.call_count == 1 + 2
    # One parsed program, four executions with their own data.
    assert [json.loads(o["output"]) for o in outputs] == [{"a": n, "b": "y"} for n in range(4)]


def test_given_pooled_lambda_invokes_then_the_task_thread_waits_while_a_shared_thread_invokes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_tasks

    from local_stack.moto_speedups import lambda_invokes_on_shared_threads

    invoked_on: list[str] = []

    def invoke(parameters: dict, region: str, state_credentials: Any) -> dict:
        invoked_on.append(threading.current_thread().name)
        if parameters.get("fail"):
            raise RuntimeError("function error")
        return {"StatusCode": 200, "Payload": parameters["Payload"]}

    monkeypatch.setattr(lambda_tasks, "_invoke_lambda_function", invoke)
    with lambda_invokes_on_shared_threads():
        answer = lambda_tasks._invoke_lambda_function(parameters={"Payload": {"a": 1}}, region="us-east-1",
                                                      state_credentials=None)
        with pytest.raises(RuntimeError, match="function error"):
            lambda_tasks._invoke_lambda_function(parameters={"fail": True}, region="us-east-1", state_credentials=None)
    assert answer == {"StatusCode": 200, "Payload": {"a": 1}}
    assert all(name.startswith("lambda-invoke") for name in invoked_on) and len(invoked_on) == 2
    assert lambda_tasks._invoke_lambda_function is invoke  # restored


IS_PRESENT_PROBE = {"StartAt": "Waiting", "States": {
    "Waiting": {"Type": "Choice", "Choices": [{"Variable": "$.run.waitSeconds", "IsPresent": True, "Next": "Wait"}],
                "Default": "Done"},
    "Wait": {"Type": "Pass", "End": True}, "Done": {"Type": "Pass", "End": True}}}


def test_given_quiet_probes_then_an_is_present_false_logs_no_error_and_still_takes_its_branch(
    sfn: Any, caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    from local_stack.moto_fixes import quiet_missing_path_probes

    arn = machine(sfn, IS_PRESENT_PROBE, name="probe")

    def errors() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and "NoSuchJsonPath" in r.getMessage()]

    with caplog.at_level(logging.ERROR):
        assert run(sfn, arn, json.dumps({"run": {}}))["status"] == "SUCCEEDED"
        assert errors()  # moto logs the probe as an error
        caplog.clear()
        with quiet_missing_path_probes():
            finished_run = run(sfn, arn, json.dumps({"run": {}}))
        assert finished_run["status"] == "SUCCEEDED" and not errors()


def test_given_pooled_lambda_invokes_when_300_wait_inside_their_invocation_then_all_run_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A RunPrediction may sleep for its create slot inside its invocation: invocations must not
    queue behind each other (a pool of 256 made a 30 x 40 batch's cells late for their slots)."""
    import threading

    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_tasks

    from local_stack.moto_speedups import lambda_invokes_on_shared_threads

    together = threading.Barrier(300, timeout=10)

    def invoke(parameters: dict, region: str, state_credentials: Any) -> dict:
        together.wait()  # breaks (BrokenBarrierError) unless all 300 are in flight at once
        return {"StatusCode": 200}

    monkeypatch.setattr(lambda_tasks, "_invoke_lambda_function", invoke)
    answers: list[Any] = []
    with lambda_invokes_on_shared_threads():
        tasks = [threading.Thread(target=lambda: answers.append(lambda_tasks._invoke_lambda_function(
            parameters={}, region="us-east-1", state_credentials=None))) for _ in range(300)]
        for task in tasks:
            task.start()
        for task in tasks:
            task.join(15)
    assert len(answers) == 300


def test_given_moto_process_env_then_s3_objects_over_16_kb_are_kept_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.s3.models import s3_backends

    from local_stack.moto_process import MOTO_PROCESS_ENV

    def buffers() -> dict[str, bool]:
        bucket = s3_backends["123456789012"]["aws"].buckets["images-bucket"]
        return {key: bucket.keys[key]._value_buffer._rolled for key in ("image.png", "thumb.jpg")}

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        s3.create_bucket(Bucket="images-bucket")
        s3.put_object(Bucket="images-bucket", Key="image.png", Body=b"p" * 300_000)
        s3.put_object(Bucket="images-bucket", Key="thumb.jpg", Body=b"t" * 8_000)
        assert buffers() == {"image.png": False, "thumb.jpg": False}  # moto's default: all in memory
        for name, value in MOTO_PROCESS_ENV.items():
            monkeypatch.setenv(name, value)
        s3.put_object(Bucket="images-bucket", Key="image.png", Body=b"p" * 300_000)
        s3.put_object(Bucket="images-bucket", Key="thumb.jpg", Body=b"t" * 8_000)
        assert buffers() == {"image.png": True, "thumb.jpg": False}
        assert s3.get_object(Bucket="images-bucket", Key="image.png")["Body"].read() == b"p" * 300_000


def test_given_request_ids_drawn_at_once_then_each_answer_has_a_fresh_52_character_id(sfn: Any) -> None:
    import re

    import moto.core.responses as responses

    from local_stack.moto_speedups import request_ids_drawn_at_once

    with request_ids_drawn_at_once():
        assert getattr(responses.gen_amzn_requestid_long, SPEEDUP, False)
        ids = [sfn.list_state_machines()["ResponseMetadata"]["RequestId"] for _ in range(3)]
        headers: dict[str, str] = {}
        drawn = responses.gen_amzn_requestid_long(headers)
    assert all(re.fullmatch(r"[A-Za-z0-9]{52}", i) for i in [*ids, drawn]) and len(set(ids)) == 3
    assert headers == {"x-amzn-requestid": drawn}
    assert not getattr(responses.gen_amzn_requestid_long, SPEEDUP, False)  # restored
