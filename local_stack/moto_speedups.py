"""moto's per-request overhead that is pure waste, cut while the local stack runs (each a context
manager, applied with ``moto_fixes``'s corrections):

- the server lists moto's package folder on every request (``cached_moto_module_list``);
- the ASL interpreter builds a new boto3 client for every Lambda task
  (``shared_step_functions_clients``) and parses every JSONPath each time a state uses it
  (``cached_jsonpath_parsing``);
- every execution parses its state machine's definition anew (``parsed_definitions_reused``);
- each Task state's thread makes its Lambda invoke itself and keeps that deep stack resident while
  it waits for the task token (``lambda_invokes_on_shared_threads``);
- the server answers every request by listing its handler's methods (``cached_handler_methods``)
  and draws its 52-character request id one character per call (``request_ids_drawn_at_once``).

What every process of the stack speeds up (HTTP headers, botocore's user agent) is in
``process_speedups``.

DynamoDB's are in ``moto_dynamodb_speedups``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SPEEDUP = "_local_stack_speedup"
"""Set on every replacement, to the speedup's name: entering a speedup twice (a second stack in one
process) keeps the first one's replacement, and tests tell a replaced attribute from moto's own."""


@contextmanager
def replaced(targets: list[tuple[Any, str]], make: Callable[[Any], Any]) -> Iterator[None]:
    """Sets each ``owner.name`` to ``make(original)`` while active, then puts the originals back."""
    originals = [getattr(owner, name) for owner, name in targets]
    tag = make.__qualname__  # two speedups may wrap one attribute (one around the other)
    if all(_holds(original, tag) for original in originals):
        yield
        return
    # What each owner held itself (a classmethod as such), else None: inherited, removed again after.
    own = [vars(owner).get(name) for owner, name in targets]
    for (owner, name), original in zip(targets, originals, strict=True):
        replacement = make(original)
        found = replacement.__func__ if isinstance(replacement, staticmethod) else replacement  # by getattr
        setattr(found, SPEEDUP, tag)
        found.__wrapped__ = original
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for (owner, name), held in zip(targets, own, strict=True):
            if held is not None:
                setattr(owner, name, held)
            else:
                delattr(owner, name)


def _holds(replacement: Any, tag: str) -> bool:
    """Whether this speedup is already in the chain of replacements."""
    while getattr(replacement, SPEEDUP, None):
        if getattr(replacement, SPEEDUP) == tag:
            return True
        replacement = getattr(replacement, "__wrapped__", None)
    return False


@contextmanager
def cached_moto_module_list() -> Iterator[None]:
    """moto's server routes every request through `DomainDispatcherApplication.get_backend_for_host`,
    which asks `moto.backends.list_of_moto_modules()`: a `listdir` of moto's package folder and an
    `isdir` of each of its ~200 entries, per request. The folder does not change while the stack
    runs: it is listed once."""
    import moto.backends as backends

    def cached(original: Callable[[], Any]) -> Callable[[], tuple[str, ...]]:
        cache: list[tuple[str, ...]] = []

        def list_of_moto_modules() -> tuple[str, ...]:
            if not cache:
                cache.append(tuple(original()))
            return cache[0]

        return list_of_moto_modules

    with replaced([(backends, "list_of_moto_modules")], cached):
        yield


@contextmanager
def cached_handler_methods() -> Iterator[None]:
    """moto's `BaseResponse.call_action` finds the method for an action by listing every function
    of the handler's class with `inspect.getmembers`, on every request (a few hundred members for
    DynamoDB's handler or S3's). A class's methods do not change while the stack runs: each class is
    listed once."""
    import moto.core.responses as responses

    def cached(original: Callable[[object], list[str]]) -> Callable[[object], list[str]]:
        listed: dict[object, frozenset[str]] = {}

        def method_names_from_class(clazz: object) -> frozenset[str]:
            names = listed.get(clazz)
            if names is None:
                names = listed[clazz] = frozenset(original(clazz))
            return names

        return method_names_from_class  # type: ignore[return-value]

    with replaced([(responses, "method_names_from_class")], cached):
        yield


@contextmanager
def request_ids_drawn_at_once() -> Iterator[None]:
    """Every answer carries an `x-amzn-requestid` of 52 letters and digits, which moto draws with
    one `random.choice` call per character (a Python-level call each, ~2 % of moto's CPU). The id
    is drawn from moto's own random source in one `choices` call: the same alphabet and length."""
    import string

    import moto.core.responses as responses
    from moto.moto_api._internal import mock_random

    alphabet = string.ascii_letters + string.digits

    def at_once(_original: Callable[..., str]) -> Callable[..., str]:
        def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
            request_id = "".join(mock_random.choices(alphabet, k=52))
            if isinstance(headerdict, dict):
                headerdict["x-amzn-requestid"] = request_id
            return request_id

        return gen_amzn_requestid_long

    with replaced([(responses, "gen_amzn_requestid_long")], at_once):
        yield


# The interpreter's modules that call `boto_client_for` (imported by name): the Lambda tasks.
_BOTO_CLIENT_MODULES = (
    "moto.stepfunctions.parser.asl.utils.boto_client",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils",
)
# Concurrent executions share one client per service: one connection each to moto, kept alive.
STEP_FUNCTIONS_CLIENT_POOL = 256


@contextmanager
def shared_step_functions_clients() -> Iterator[None]:
    """moto's ASL interpreter builds a new boto3 client (service model loaded, endpoint resolved,
    a new connection to moto) for every Lambda task it runs: milliseconds of CPU per state. boto3
    clients are thread-safe: while active, one client per (region, service, moto port) serves
    every task of every execution. moto hands every task a `StateCredentials` (the execution's
    role) and then ignores it (its clients sign with fixed keys), so the credentials are no part
    of the key: keying on them, as this fix first did, built a client per task after all."""
    import importlib

    modules = [importlib.import_module(name) for name in _BOTO_CLIENT_MODULES]
    clients: dict[tuple[str, str, str], Any] = {}
    lock = threading.Lock()

    def shared(original: Callable[..., Any]) -> Callable[..., Any]:
        def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
            from moto.core.models import botocore_stubber
            from moto.settings import moto_server_port

            if botocore_stubber.enabled:  # in-process moto: no server
                return original(region=region, service=service, state_credentials=state_credentials)
            key = (region, service, moto_server_port())
            client = clients.get(key)
            if client is None:
                with lock:
                    client = clients.get(key)
                    if client is None:
                        client = _shared_client(region, service, key[2])
                        clients[key] = client
            return client

        return boto_client_for

    with replaced([(module, "boto_client_for") for module in modules], shared):
        try:
            yield
        finally:
            clients.clear()


def _shared_client(region: str, service: str, port: str) -> Any:
    """moto's own client (credentials, no retries, its timeouts) on 127.0.0.1 (`localhost` may try
    ::1 first on every new connection), with a connection pool as large as the concurrency the
    stack runs at."""
    import boto3
    from botocore.config import Config
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    return boto3.client(
        service,
        region_name=region,
        endpoint_url=f"http://127.0.0.1:{port}",
        aws_access_key_id="ak",
        aws_secret_access_key="sk",  # noqa: S106 - moto's fake credentials, as moto's own client
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=STEP_FUNCTIONS_CLIENT_POOL,
        ),
    )


# The interpreter's modules that parse a JSONPath on every use (`parse` imported by name).
_JSONPATH_MODULES = (
    "moto.stepfunctions.parser.asl.utils.json_path",  # jsonpath_ng.ext.parse: InputPath, Parameters' .$ …
    "moto.stepfunctions.parser.asl.component.common.path.result_path",  # jsonpath_ng.parse: ResultPath
)


@contextmanager
def cached_jsonpath_parsing() -> Iterator[None]:
    """moto's ASL interpreter hands every path (`$.cell`, `$.result`…) to jsonpath_ng's PLY
    parser each time a state reads or writes its data: about half a millisecond, many times per
    state. A definition has a few dozen distinct paths and a parsed path is immutable (`find` and
    `update_or_create` only read it): each is parsed once."""
    import functools
    import importlib

    modules = [importlib.import_module(name) for name in _JSONPATH_MODULES]
    with replaced([(module, "parse") for module in modules], functools.lru_cache(maxsize=4096)):
        yield


@contextmanager
def parsed_definitions_reused() -> Iterator[None]:
    """moto parses a state machine's whole definition (its ANTLR parser: 50-100 ms of CPU for
    ours) when the machine is created, to validate it, and again at the start of every execution,
    on the path from POST to the first create. The parsed program is an immutable tree
    (per-execution state lives in the execution's environment), so creation and every execution
    of one definition share one parse: the first batch starts as fast as the next ones. A
    definition that does not parse raises each time, as before."""
    import functools

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def parsed_once(original: Callable[[str], Any]) -> Any:
        return staticmethod(functools.lru_cache(maxsize=64)(original))

    def reused(_original: Callable[..., Any]) -> Callable[..., Any]:
        def _get_evaluation_entrypoint(self: Any) -> Any:
            return AmazonStateLanguageParser.parse(self._evaluation_details.state_machine_details.definition)[0]

        return _get_evaluation_entrypoint

    with replaced([(AmazonStateLanguageParser, "parse")], parsed_once), \
            replaced([(ExecutionWorker, "_get_evaluation_entrypoint")], reused):
        yield


# moto's Lambda Invoke answer to a response past Lambda's limit (moto.awslambda.responses).
_RESPONSE_TOO_LARGE = {
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}


@contextmanager
def lambda_tasks_invoke_directly() -> Iterator[None]:
    """A Lambda Task state invokes through a boto3 client, over HTTP, into moto's own server (a
    thread per connection, Flask's routing, moto's Lambda responses) and only then reaches the
    stack's dispatch (`MotoLambdaDispatch`), in the same process: most of an invoke's CPU in moto.
    A synchronous invoke of a template function now calls that dispatch directly, with the same
    payload limits and the same answer; anything else (another function, an Event invoke, a
    request past the limit, a qualifier) still goes moto's way, for moto's own answer or error."""
    import io

    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_tasks
    from moto.awslambda_simple.models import LambdaSimpleBackend

    from .aws_limits import lambda_request_too_large, lambda_response_too_large
    from .lambdas import RequestTooLargeError

    def direct(original: Callable[..., Any]) -> Callable[..., Any]:
        def _invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> Any:
            dispatch = getattr(LambdaSimpleBackend.invoke, "dispatch", None)
            payload = parameters.get("Payload") or b""
            logical_id = dispatch.resolve(str(parameters.get("FunctionName"))) if dispatch else None
            if (logical_id is None or not set(parameters) <= {"FunctionName", "Payload", "InvocationType"}
                    or parameters.get("InvocationType", "RequestResponse") != "RequestResponse"
                    or not isinstance(payload, bytes) or lambda_request_too_large(len(payload))):
                return original(parameters=parameters, region=region, state_credentials=state_credentials)
            try:
                result, function_error = dispatch.call(logical_id, payload, "RequestResponse")
            except RequestTooLargeError:
                return original(parameters=parameters, region=region, state_credentials=state_credentials)
            if lambda_response_too_large(len(result)):
                result, function_error = json.dumps(_RESPONSE_TOO_LARGE).encode(), "Unhandled"
            answer: dict[str, Any] = {"StatusCode": 200,
                                      "Payload": lambda_tasks._from_payload(io.BytesIO(result))}
            if function_error:
                answer["FunctionError"] = function_error
            return answer

        return _invoke_lambda_function

    with replaced([(lambda_tasks, "_invoke_lambda_function")], direct):
        yield


# Lambda tasks invoking at once: Lambda's default concurrency per account. Fewer queued the
# invocations of a 30 x 40 batch (a RunPrediction may sleep up to 3 s for its create slot inside
# its invocation): cells reached their slots late, created together and met Replicate's 429s.
LAMBDA_INVOKE_WORKERS = 1000


@contextmanager
def lambda_invokes_on_shared_threads() -> Iterator[None]:
    """moto runs each Task state on a thread of its own, which invokes the Lambda (botocore,
    urllib3, http.client: a deep stack) and then, for `.waitForTaskToken`, waits for the callback
    for as long as the prediction takes. The pages the deep call touched stay resident for the
    whole wait: ~30 KB per waiting cell, 1,200 waiting cells in a 30 x 40 batch. The invoke runs
    on a shared pool of threads instead, whose stacks are reused."""
    from concurrent.futures import ThreadPoolExecutor

    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_tasks

    pool = ThreadPoolExecutor(max_workers=LAMBDA_INVOKE_WORKERS, thread_name_prefix="lambda-invoke")

    def pooled(original: Callable[..., Any]) -> Callable[..., Any]:
        def _invoke_lambda_function(parameters: dict, region: str, state_credentials: Any) -> Any:
            return pool.submit(original, parameters=parameters, region=region,
                               state_credentials=state_credentials).result()

        return _invoke_lambda_function

    with replaced([(lambda_tasks, "_invoke_lambda_function")], pooled):
        try:
            yield
        finally:
            pool.shutdown(wait=False)
