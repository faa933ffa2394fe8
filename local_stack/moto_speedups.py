"""moto's per-request overhead that is pure waste, cut while the local stack runs (each a context
manager, applied with ``moto_fixes``'s corrections):

- the server lists moto's package folder on every request (``cached_moto_module_list``);
- the ASL interpreter builds a new boto3 client for every Lambda task
  (``shared_step_functions_clients``) and parses every JSONPath each time a state uses it
  (``cached_jsonpath_parsing``);
- every execution parses its state machine's definition anew (``parsed_definitions_reused``);
- each Task state's thread makes its Lambda invoke itself and keeps that deep stack resident while
  it waits for the task token (``lambda_invokes_on_shared_threads``);
- UpdateItem's validator counts clauses at every node of the expression (``update_clause_counts_checked_once``);
- DynamoDB answers go through moto's model-driven serializer, which looks up every member of
  every attribute value of every item under several spellings (``direct_attribute_values``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

SPEEDUP = "_local_stack_speedup"
"""Set on every replacement: entering a speedup twice (a second stack in one process) keeps the
first one's replacement, and tests tell a replaced attribute from moto's own."""


@contextmanager
def _replaced(targets: list[tuple[Any, str]], make: Callable[[Any], Any]) -> Iterator[None]:
    """Sets each ``owner.name`` to ``make(original)`` while active, then puts the originals back."""
    originals = [getattr(owner, name) for owner, name in targets]
    if all(getattr(original, SPEEDUP, False) for original in originals):
        yield
        return
    own = [name in vars(owner) for owner, name in targets]  # else inherited: removed again after
    for (owner, name), original in zip(targets, originals, strict=True):
        replacement = make(original)
        setattr(replacement, SPEEDUP, True)
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for (owner, name), original, defined in zip(targets, originals, own, strict=True):
            if defined:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


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

    with _replaced([(backends, "list_of_moto_modules")], cached):
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

    with _replaced([(module, "boto_client_for") for module in modules], shared):
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
    with _replaced([(module, "parse") for module in modules], functools.lru_cache(maxsize=4096)):
        yield


@contextmanager
def direct_attribute_values() -> Iterator[None]:
    """moto serializes a DynamoDB answer by walking the service model: for each member of each
    `AttributeValue` (ten of them: S, N, B, …) of each attribute of each item it tries the key under
    several spellings. About a fifth of an UpdateItem's CPU and most of a GetItem's. An
    `AttributeValue` is already in wire shape once moto's `dynamo_to_dict` made it (`{"S": "x"}`,
    binary as bytes): it is copied as it is, binary base64-encoded as the serializer would."""
    from moto.core.serialize import BaseJSONSerializer

    def direct(original: Callable[..., None]) -> Callable[..., None]:
        def _serialize_type_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
            if shape.name != "AttributeValue" or not isinstance(value, dict):
                original(self, serialized, value, shape, key)
                return
            wire = attribute_value_wire(value, self._base64)
            if key:
                self._default_serialize(serialized, wire, shape, key)
            else:
                serialized.update(wire)

        return _serialize_type_structure

    with _replaced([(BaseJSONSerializer, "_serialize_type_structure")], direct):
        yield


def attribute_value_wire(value: dict[str, Any], base64: Any) -> dict[str, Any]:
    """One AttributeValue as DynamoDB's JSON carries it (members that are None are left out, as
    the model-driven serializer leaves them out)."""
    wire: dict[str, Any] = {}
    for kind, member in value.items():
        if member is None:
            continue
        if kind == "M":
            wire[kind] = {name: attribute_value_wire(item, base64) for name, item in member.items()}
        elif kind == "L":
            wire[kind] = [attribute_value_wire(item, base64) for item in member]
        elif kind == "B":
            wire[kind] = base64(member)
        elif kind == "BS":
            wire[kind] = [base64(item) for item in member]
        elif kind in ("S", "N"):
            wire[kind] = str(member)
        elif kind in ("SS", "NS"):
            wire[kind] = [str(item) for item in member]
        else:  # BOOL, NULL
            wire[kind] = member
    return wire


@contextmanager
def parsed_definitions_reused() -> Iterator[None]:
    """moto parses a state machine's whole definition (its ANTLR parser: 50-100 ms of CPU for
    ours) at the start of every execution, on the path from POST to the first create. The parsed
    program is an immutable tree (per-execution state lives in the execution's environment), so
    executions of the same definition share one parse."""
    import functools

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    @functools.lru_cache(maxsize=64)
    def program_for(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[0]

    def reused(_original: Callable[..., Any]) -> Callable[..., Any]:
        def _get_evaluation_entrypoint(self: Any) -> Any:
            return program_for(self._evaluation_details.state_machine_details.definition)

        return _get_evaluation_entrypoint

    with _replaced([(ExecutionWorker, "_get_evaluation_entrypoint")], reused):
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

    with _replaced([(lambda_tasks, "_invoke_lambda_function")], pooled):
        try:
            yield
        finally:
            pool.shutdown(wait=False)


@contextmanager
def update_clause_counts_checked_once() -> Iterator[None]:
    """moto's UpdateItem validator counts an expression's SET/ADD/REMOVE clauses at every
    UpdateExpression node of its tree (one per action), each count walking the node's whole
    subtree: quadratic in the number of actions, the largest single cost of an UpdateItem with a
    dozen SETs. The root's subtree holds every clause, so counting once there finds any excess;
    only then is moto's own walk run, for its exact error."""
    from moto.dynamodb.parsing.ast_nodes import UpdateExpression
    from moto.dynamodb.parsing.validators import ActionCountValidator

    def once(original: Callable[..., Any]) -> Callable[..., Any]:
        def traverse(self: Any, node: Any) -> Any:
            if isinstance(node, UpdateExpression):
                try:
                    self.verify_action_counts(node)
                    return node
                except Exception:  # noqa: S110 - moto's walk below raises the error moto would raise
                    pass
            return original(self, node)

        return traverse

    with _replaced([(ActionCountValidator, "traverse")], once):
        yield
