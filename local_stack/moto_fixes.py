"""Corrections to moto where it diverges from AWS, each a context manager LocalStack applies
while it runs.

DynamoDB (only shows under concurrency): moto's ``transact_write_items`` deep-copies every table
it touches and, when the transaction is cancelled (a condition failed, or any error), puts that
copy back: every write another thread made meanwhile is lost (e.g. a batch counter increment of
a concurrent webhook). AWS has no such behaviour. Serialising moto's DynamoDB requests removes
the race (and costs little: moto handles one request in a few milliseconds).

Lambda and Step Functions: payload limits measured as AWS measures them, and the integer
``ToleratedFailurePercentage`` AWS's own schema requires.

moto's per-request overhead that is pure waste is cut in ``moto_speedups``.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .aws_limits import (
    STEP_FUNCTIONS_PAYLOAD_MAX_BYTES,
    STEP_FUNCTIONS_REQUEST_MAX_BYTES,
    lambda_response_too_large,
    step_functions_payload_too_large,
    step_functions_request_too_large,
)

_LOCK = threading.RLock()


@contextmanager
def serialized_moto_dynamodb() -> Iterator[None]:
    """While active, moto's DynamoDB handler (in-process or server mode) runs one request at a time."""
    from moto.dynamodb.responses import DynamoHandler

    original = DynamoHandler.call_action
    if getattr(original, "_serialized", False):
        yield
        return

    def call_action(self: Any) -> Any:
        with _LOCK:
            return original(self)

    call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    try:
        yield
    finally:
        DynamoHandler.call_action = original  # type: ignore[method-assign]


class _TablesPassThrough:
    """Stands in for the `copy` module inside moto's transact_write_items: its whole-table backup
    (a deep copy of every touched table, per transaction: O(table) time and memory each, so
    O(n^2) over a batch and gigabytes at a thousand cells) becomes a no-op; `_item_undo_log`
    takes its place with copies of only the items the transaction touches."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_undo_log(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any, Any]]:
    from moto.dynamodb.models.dynamo_type import DynamoType

    saved = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.tables.get(op.get("TableName"))
        if table is None:
            continue
        key = op["Item"] if op_type == "Put" else op.get("Key", {})
        if table.hash_key_attr not in key or (table.range_key_attr and table.range_key_attr not in key):
            continue  # moto reports the malformed request itself
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        saved.append((table, hash_value, range_value, copy.deepcopy(table.get_item(hash_value, range_value))))
    return saved


def _undo(saved: list[tuple[Any, Any, Any, Any]]) -> None:
    for table, hash_value, range_value, item in reversed(saved):
        if item is None:
            table.delete_item(hash_value, range_value)
        elif range_value is not None:
            table.items[hash_value][range_value] = item
        else:
            table.items[hash_value] = item


@contextmanager
def item_level_transaction_rollback() -> Iterator[None]:
    """moto's transactions roll back item by item instead of restoring whole-table copies.

    Relies on `serialized_moto_dynamodb` (one DynamoDB request at a time), so swapping the
    module's `copy` reference for the duration of one transaction is safe.
    """
    import moto.dynamodb.models as models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_item_level", False):
        yield
        return

    def transact_write_items(self: Any, transact_items: Any, *args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            saved = _item_undo_log(self, transact_items)
            models.copy = _TablesPassThrough()  # type: ignore[assignment]
            try:
                return original(self, transact_items, *args, **kwargs)
            except Exception:
                _undo(saved)
                raise
            finally:
                models.copy = copy

    transact_write_items._item_level = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


@contextmanager
def hash_key_scoped_queries() -> Iterator[None]:
    """moto answers every base-table Query by sorting and filtering the WHOLE table; DynamoDB
    reads one partition. With a thousand-cell batch every push (a query of the owner's
    connections) became O(table): this narrows base-table queries to the partition's items.
    Index queries are left as they are (sparse GSIs are small)."""
    from moto.dynamodb.models.table import Table

    original_query, original_all_items = Table.query, Table.all_items
    if getattr(original_query, "_scoped", False):
        yield
        return
    scope = threading.local()

    def all_items(self: Any) -> Any:
        hash_key = getattr(scope, "hash_key", None)
        if hash_key is None or getattr(scope, "table", None) is not self:
            return original_all_items(self)
        partition = self.items.get(hash_key)  # .get: self.items is a defaultdict
        if partition is None:
            return []
        items = list(partition.values()) if self.range_key_attr else [partition]
        return sorted(items, key=lambda x: (x.hash_key, x.range_key) if x.range_key else x.hash_key)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original_query(self, hash_key, *args, **kwargs)
        scope.hash_key, scope.table = hash_key, self
        try:
            return original_query(self, hash_key, *args, **kwargs)
        finally:
            scope.hash_key = scope.table = None

    query._scoped = True  # type: ignore[attr-defined]
    Table.query, Table.all_items = query, all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.query, Table.all_items = original_query, original_all_items  # type: ignore[method-assign]


# -- Lambda ------------------------------------------------------------------------------------

# moto's Invoke answers Function.ResponseSizeTooLarge when `sys.getsizeof(payload) > 6000000`
# (the Python object, against a round 6 MB), so it refuses results Lambda accepts up to 6,291,556
# bytes. Its document is Lambda's own; only the measurement needs correcting.
_MOTO_RESPONSE_THRESHOLD = 6_000_000


class _PayloadSizeSys:
    """Stands in for the `sys` module inside moto's Lambda responses: `getsizeof` answers above
    moto's threshold exactly when the payload is over Lambda's response limit."""

    def __getattr__(self, name: str) -> Any:
        return getattr(sys, name)

    @staticmethod
    def getsizeof(payload: Any, *default: Any) -> int:
        size = len(payload.encode() if isinstance(payload, str) else payload)
        return _MOTO_RESPONSE_THRESHOLD + 1 if lambda_response_too_large(size) else 0


@contextmanager
def exact_lambda_response_limit() -> Iterator[None]:
    """moto's Lambda Invoke refuses a response only past Lambda's limit, measured in bytes."""
    import moto.awslambda.responses as responses

    original = responses.sys
    if isinstance(original, _PayloadSizeSys):
        yield
        return
    responses.sys = _PayloadSizeSys()  # type: ignore[assignment]
    try:
        yield
    finally:
        responses.sys = original


# -- Step Functions ----------------------------------------------------------------------------

# The interpreter's modules that imported moto's `is_within_size_quota` by name.
_QUOTA_CHECKING_MODULES = (
    "moto.stepfunctions.parser.asl.component.state.state",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task_lambda",
    "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service",
)


def _too_long(field: str) -> Exception:
    """Step Functions' constraint validation (the value is omitted: the field is sensitive)."""
    from moto.stepfunctions.exceptions import ValidationException

    return ValidationException(
        f"1 validation error detected: Value at '{field}' failed to satisfy constraint: "
        f"Member must have length less than or equal to {STEP_FUNCTIONS_PAYLOAD_MAX_BYTES}"
    )


def _utf8_size(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


def _within_state_payload_limit(value: Any) -> bool:
    """moto's check measures `json.dumps` with spaces and \\u escapes and refuses the limit
    itself; Step Functions measures the UTF-8 JSON and allows up to the limit."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    return not step_functions_payload_too_large(len(text.encode()))


@contextmanager
def step_functions_api_limits() -> Iterator[None]:
    """Step Functions' API answers oversized payloads as AWS does; moto accepts any size: a request
    over 1 MB is a 413, StartExecution `input` and SendTaskSuccess `output` over 256 KiB a
    ValidationException (validated before the state machine or the token is looked up)."""
    from moto.stepfunctions.responses import StepFunctionResponse

    if getattr(StepFunctionResponse.start_execution, "_limited", False):
        yield
        return
    saved = {name: StepFunctionResponse.__dict__.get(name) for name in ("call_action", "start_execution", "send_task_success")}
    original_call_action = StepFunctionResponse.call_action
    original_start, original_success = StepFunctionResponse.start_execution, StepFunctionResponse.send_task_success

    def call_action(self: Any) -> Any:
        body = self.body.encode() if isinstance(self.body, str) else (self.body or b"")
        if step_functions_request_too_large(len(body)):
            message = f"HTTP content length exceeded {STEP_FUNCTIONS_REQUEST_MAX_BYTES} bytes."
            return 413, {"Content-Type": "text; charset=utf-8"}, message
        return original_call_action(self)

    def start_execution(self: Any) -> Any:
        if step_functions_payload_too_large(_utf8_size(self._get_param("input"))):
            raise _too_long("input")
        return original_start(self)

    def send_task_success(self: Any) -> Any:
        if step_functions_payload_too_large(_utf8_size(self._get_param("output"))):
            raise _too_long("output")
        return original_success(self)

    start_execution._limited = True  # type: ignore[attr-defined]
    StepFunctionResponse.call_action = call_action  # type: ignore[method-assign]
    StepFunctionResponse.start_execution = start_execution  # type: ignore[method-assign]
    StepFunctionResponse.send_task_success = send_task_success  # type: ignore[method-assign]
    try:
        yield
    finally:
        for name, attribute in saved.items():
            if attribute is None:
                delattr(StepFunctionResponse, name)  # inherited again from BaseResponse
            else:
                setattr(StepFunctionResponse, name, attribute)


@contextmanager
def step_functions_state_payload_limit() -> Iterator[None]:
    """A state result over 256 KiB fails the execution with States.DataLimitExceeded as on AWS:
    moto's own check, measured as Step Functions measures (UTF-8 JSON, the limit itself allowed),
    and a terminal error `States.ALL` does not catch or retry (moto's catchers took it)."""
    import importlib

    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType

    original_matches = ErrorEqualsDecl._eval_body
    if getattr(original_matches, "_terminal_data_limit", False):
        yield
        return
    data_limit = StatesErrorName(typ=StatesErrorNameType.StatesStatesDataLimitExceeded)
    states_all = StatesErrorName(typ=StatesErrorNameType.StatesALL)

    def matches(self: Any, env: Any) -> None:
        error_name = env.stack[-1]
        original_matches(self, env)
        if error_name == data_limit and states_all in self.error_names:
            env.stack[-1] = False

    matches._terminal_data_limit = True  # type: ignore[attr-defined]
    modules = [importlib.import_module(name) for name in _QUOTA_CHECKING_MODULES]
    quota_checks = [module.is_within_size_quota for module in modules]
    ErrorEqualsDecl._eval_body = matches  # type: ignore[method-assign]
    for module in modules:
        module.is_within_size_quota = _within_state_payload_limit
    try:
        yield
    finally:
        ErrorEqualsDecl._eval_body = original_matches  # type: ignore[method-assign]
        for module, check in zip(modules, quota_checks, strict=True):
            module.is_within_size_quota = check


# `"ToleratedFailurePercentage": 100`: moto's ASL grammar only takes a NUMBER token there, and its
# lexer reads an integer as INT. AWS's schema requires the integer; the float form is the same
# value for the interpreter (it converts with float()).
_INTEGER_PERCENTAGE = re.compile(r'("ToleratedFailurePercentage"\s*:\s*)(\d+)(?=\s*[,}])')


def as_float_tolerated_failure_percentage(definition: str) -> str:
    """The definition with every integer `ToleratedFailurePercentage` written as a float."""
    return _INTEGER_PERCENTAGE.sub(r"\g<1>\g<2>.0", definition)


@contextmanager
def integer_tolerated_failure_percentage() -> Iterator[None]:
    """moto's ASL parser accepts `"ToleratedFailurePercentage": <integer>` (every caller of
    `AmazonStateLanguageParser.parse`: definition validation and each execution)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    descriptor = AmazonStateLanguageParser.__dict__["parse"]
    original = AmazonStateLanguageParser.parse
    if getattr(original, "_integer_percentage", False):
        yield
        return

    def parse(definition: str) -> Any:
        return original(as_float_tolerated_failure_percentage(definition))

    parse._integer_percentage = True  # type: ignore[attr-defined]
    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]
    try:
        yield
    finally:
        AmazonStateLanguageParser.parse = descriptor  # type: ignore[method-assign]


class _MissingPathProbes(logging.Filter):
    """Drops moto's ERROR line for a JSONPath that matched nothing: a Choice's `IsPresent: false`
    (how the workflow tells "wait for a slot" from "done") raises and logs it on every cell, though
    nothing failed. A path that really is missing still fails the execution with its own event."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("%s at '%s'") or "NoSuchJsonPathError" not in record.getMessage()


@contextmanager
def quiet_missing_path_probes() -> Iterator[None]:
    logger = logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component")
    probe_filter = _MissingPathProbes()
    logger.addFilter(probe_filter)
    try:
        yield
    finally:
        logger.removeFilter(probe_filter)
