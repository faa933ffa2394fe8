"""In-process Lambda: load each function's real handler from its CodeUri, call it with a fake
`LambdaContext`, and serve moto's Lambda `Invoke` (the state machine's tasks) from it."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from .aws_limits import (
    LAMBDA_SYNC_REQUEST_LIMIT_BYTES,
    LAMBDA_SYNC_RESPONSE_MAX_BYTES,
    lambda_request_too_large,
    lambda_response_too_large,
)
from .model import FunctionSpec, StackModel

_IMPORT_LOCK = threading.RLock()


class LambdaContext:
    """The attributes and method of the Python runtime's context object."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = spec.arn
        self.memory_limit_in_mb = spec.memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.identity = None
        self.client_context = None
        self.tenant_id = None
        self._deadline = time.monotonic() + spec.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class MarshalError(Exception):
    """The handler returned something the runtime cannot serialise to JSON."""


class RequestTooLargeError(Exception):
    """Lambda refused the Invoke itself (413 RequestEntityTooLargeException): the function never ran."""

    def __init__(self, size: int) -> None:
        super().__init__(f"Request must be smaller than {LAMBDA_SYNC_REQUEST_LIMIT_BYTES} bytes for the InvokeFunction operation")
        self.size = size


class ResponseTooLargeError(Exception):
    """The function ran, but its result is over Lambda's response limit: the caller gets a
    function error instead of the result."""

    ERROR_TYPE = "Function.ResponseSizeTooLarge"

    def __init__(self, size: int) -> None:
        super().__init__(f"Response payload size exceeded maximum allowed payload size ({LAMBDA_SYNC_RESPONSE_MAX_BYTES} bytes).")
        self.size = size


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def to_wire(result: Any) -> bytes:
    """Serialise a handler's return value as the Python runtime does."""
    try:
        return json.dumps(result, default=_json_default).encode()
    except (TypeError, ValueError) as exc:
        raise MarshalError(f"Unable to marshal response: {exc}") from exc


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The runtime's error document: `errorType` is what Step Functions matches on."""
    if isinstance(exc, ResponseTooLargeError):  # Lambda's own document: the function raised nothing
        return {"errorMessage": str(exc), "errorType": ResponseTooLargeError.ERROR_TYPE}
    name = "Runtime.MarshalError" if isinstance(exc, MarshalError) else type(exc).__name__
    return {
        "errorMessage": str(exc),
        "errorType": name,
        "requestId": "",
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


def load_handler(spec: FunctionSpec) -> Callable[[Any, Any], Any]:
    """Import `Handler` from `CodeUri` under a unique module name, so that every function's
    `app.py` coexists in one process. Modules imported from the function's own folder while
    it loads are kept private to it (taken out of `sys.modules` afterwards)."""
    module_path, _, attribute = spec.handler.rpartition(".")
    if not module_path:
        raise ImportError(f"{spec.logical_id}: Handler {spec.handler!r} must be module.function")
    file = spec.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not file.is_file():
        file = spec.code_dir.joinpath(*module_path.split("."), "__init__.py")
    if not file.is_file():
        raise ImportError(f"{spec.logical_id}: no {module_path} in {spec.code_dir}")
    unique = f"_local_lambda_{spec.logical_id}_{module_path.replace('.', '_')}"
    with _IMPORT_LOCK:
        for layer in spec.layer_dirs:
            for candidate in (layer / "python", layer):
                if candidate.is_dir() and str(candidate) not in sys.path:
                    sys.path.append(str(candidate))
        before = set(sys.modules)
        sys.path.insert(0, str(spec.code_dir))
        try:
            module_spec = importlib.util.spec_from_file_location(unique, file)
            assert module_spec is not None and module_spec.loader is not None
            module: ModuleType = importlib.util.module_from_spec(module_spec)
            sys.modules[unique] = module
            try:
                module_spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(unique, None)
                raise
        finally:
            sys.path.remove(str(spec.code_dir))
            _privatise_siblings(spec.code_dir, before)
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise ImportError(f"{spec.logical_id}: {spec.handler} is not a callable in {file}")
    return _one_at_a_time(handler) if _holds_event_router(module) else handler


# Powertools' event handlers keep the request being resolved on a class attribute
# (`BaseRouter.current_event`), shared by every resolver in a process. On Lambda a container runs
# one invocation at a time; here every invocation shares the process, so two concurrent requests
# could route one's event with the other's headers or body (a page's ticket request answered 422).
# Invocations of functions whose module holds a resolver run one at a time.
_ROUTER_LOCK = threading.Lock()


def _holds_event_router(module: ModuleType) -> bool:
    routers = sys.modules.get("aws_lambda_powertools.event_handler.api_gateway")
    base = getattr(routers, "BaseRouter", None)
    return base is not None and any(isinstance(value, base) for value in vars(module).values())


def _one_at_a_time(handler: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def serialized(event: Any, context: Any) -> Any:
        with _ROUTER_LOCK:
            return handler(event, context)

    serialized.__wrapped__ = handler  # type: ignore[attr-defined]
    return serialized


def _privatise_siblings(code_dir: Path, before: set[str]) -> None:
    for name in set(sys.modules) - before:
        module = sys.modules.get(name)
        origin = getattr(module, "__file__", None)
        if name.startswith("_local_lambda_") or not origin:
            continue
        try:
            Path(origin).resolve().relative_to(code_dir)
        except ValueError:
            continue
        del sys.modules[name]


def clear_code_caches(dirs: list[Path]) -> int:
    """Clear the `functools` caches (settings, clients) of already imported modules that live
    under `dirs` (layers, function folders), so a new stack's environment is read afresh."""
    cleared = 0
    roots = tuple(os.path.join(os.path.realpath(d), "") for d in dirs)
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if not isinstance(origin, str) or not os.path.abspath(origin).startswith(roots):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, type):  # a class that defines cache_clear: its instances are the caches
                continue
            clear = getattr(value, "cache_clear", None)
            if callable(clear) and getattr(value, "__module__", None) == module.__name__:
                clear()
                cleared += 1
    return cleared


class Functions:
    """The template's functions, each loaded on first use, callable in-process."""

    def __init__(self, model: StackModel) -> None:
        self.model = model
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._lock = threading.Lock()

    def spec(self, logical_id: str) -> FunctionSpec:
        return self.model.functions[logical_id]

    def handler(self, logical_id: str) -> Callable[[Any, Any], Any]:
        handler = self._handlers.get(logical_id)
        if handler is None:
            with self._lock:
                handler = self._handlers.get(logical_id)
                if handler is None:
                    handler = load_handler(self.spec(logical_id))
                    self._handlers[logical_id] = handler
        return handler

    def invoke_raw(self, logical_id: str, event: Any) -> bytes:
        """Call the handler with a JSON round-tripped event; return the serialised result.
        Exceptions from the handler propagate; Lambda's payload limits raise
        `RequestTooLargeError` (before the handler runs) and `ResponseTooLargeError`."""
        spec = self.spec(logical_id)
        request = json.dumps(event, default=_json_default, separators=(",", ":"), ensure_ascii=False)
        size = len(request.encode("utf-8", "surrogatepass"))  # a lone surrogate is still a payload
        if lambda_request_too_large(size):
            raise RequestTooLargeError(size)
        response = to_wire(self.handler(logical_id)(json.loads(request), LambdaContext(spec)))
        if lambda_response_too_large(len(response)):
            raise ResponseTooLargeError(len(response))
        return response

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke as Lambda would and return the deserialised result (tests use this)."""
        return json.loads(self.invoke_raw(logical_id, event))


# --------------------------------------------------------------------------------------------
# moto's Lambda: LambdaSimpleBackend.invoke → the real handler


class MotoLambdaDispatch:
    """Replaces `LambdaSimpleBackend.invoke` (moto's Lambda without Docker) while installed."""

    def __init__(self, functions: Functions, on_error: Callable[[str, BaseException], None]) -> None:
        self.functions = functions
        self.on_error = on_error
        self._original: Any = None

    def install(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self._original is not None:
            return
        self._original = LambdaSimpleBackend.invoke
        dispatch = self

        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> bytes | str | None:
            return dispatch.moto_invoke(backend, function_name, qualifier, body, headers, response_headers)

        invoke.__wrapped__ = self._original  # type: ignore[attr-defined]
        invoke.dispatch = self  # type: ignore[attr-defined] # the interpreter's direct Lambda tasks find it here
        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign, assignment]

    def uninstall(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend

        if self._original is not None:
            LambdaSimpleBackend.invoke = self._original  # type: ignore[method-assign]
            self._original = None

    def moto_invoke(
        self, backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
    ) -> bytes | str | None:
        logical_id = self.resolve(function_name)
        if logical_id is None:
            return self._original(backend, function_name, qualifier, body, headers, response_headers)
        payload = (body.encode() if isinstance(body, str) else body) or b""
        invocation_type = _header(headers, "X-Amz-Invocation-Type") or "RequestResponse"
        # Only the synchronous limit is emulated: asynchronous (Event) invocations have their own.
        if invocation_type != "Event" and lambda_request_too_large(len(payload)):
            raise _request_entity_too_large(len(payload))
        try:
            result, function_error = self.call(logical_id, payload, invocation_type)
        except RequestTooLargeError as exc:
            raise _request_entity_too_large(exc.size) from exc
        if function_error:
            response_headers["x-amz-function-error"] = function_error
        return result

    def resolve(self, function_name: str) -> str | None:
        """The logical id of a template function (by name or ARN); None leaves it to moto."""
        spec = self.functions.model.function_by_name(function_name)
        return None if spec is None else spec.logical_id

    def call(self, logical_id: str, payload: bytes, invocation_type: str) -> tuple[bytes, str | None]:
        return run_invocation(self.functions, logical_id, payload, invocation_type, self.on_error)


def run_invocation(
    functions: Functions,
    logical_id: str,
    payload: bytes,
    invocation_type: str,
    on_error: Callable[[str, BaseException], None],
) -> tuple[bytes, str | None]:
    """Lambda's Invoke of a template function in this process: (response payload, function error
    or None). `Event` runs on a thread and answers at once; `RequestTooLargeError` propagates
    (Lambda refuses the request itself); any other exception is the function error document."""
    event = json.loads(payload) if payload else {}
    if invocation_type == "DryRun":
        return b"", None
    if invocation_type == "Event":
        threading.Thread(
            target=_run_async, args=(functions, logical_id, event, on_error), daemon=True, name=f"lambda-{logical_id}"
        ).start()
        return b"", None
    try:
        return functions.invoke_raw(logical_id, event), None
    except RequestTooLargeError:
        raise
    except Exception as exc:
        on_error(logical_id, exc)
        return json.dumps(error_payload(exc)).encode(), "Unhandled"


def _run_async(functions: Functions, logical_id: str, event: Any, on_error: Callable[[str, BaseException], None]) -> None:
    try:
        functions.invoke_raw(logical_id, event)
    except Exception as exc:
        on_error(logical_id, exc)


def _request_entity_too_large(size: int) -> Exception:
    """What Lambda's Invoke answers for an oversized synchronous request (moto serialises it)."""
    from moto.core.exceptions import AWSError

    return AWSError(str(RequestTooLargeError(size)), "RequestEntityTooLargeException", 413)


def _header(headers: Any, name: str) -> str | None:
    if headers is None:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return value
