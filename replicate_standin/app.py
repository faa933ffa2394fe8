"""The ASGI app: Replicate's HTTP API, as far as this project uses it.

Routes (JSON, Replicate's shapes; errors are problem bodies ``{"title", "detail", "status"}``):

* ``POST /v1/models/{owner}/{name}/predictions`` → 201 prediction (``Prefer: wait[=N]`` holds
  the answer until the prediction is terminal or N seconds pass, like Replicate)
* ``POST /v1/predictions`` with ``version`` = ``owner/name`` or ``owner/name:version`` or a known
  version id → the same
* ``GET /v1/predictions`` (newest first, ``cursor`` pagination, ``page_size`` per page)
* ``GET /v1/predictions/{id}``, ``POST /v1/predictions/{id}/cancel``
* ``GET /v1/webhooks/default/secret`` → ``{"key": "whsec_..."}``
* ``GET /delivery/{id}/{filename}`` → the output bytes; 404 ``output_ttl_seconds`` after completion
* ``GET /health`` → ``{"status": "ok"}`` (not Replicate's; for readiness checks)
* ``GET /_standin/faults`` → what fault injection did so far (not Replicate's; for chaos runs;
  behind the same token as ``/v1``): see ``StandinStore.fault_report``
* Files API: ``POST /v1/files``, ``GET /v1/files``, ``GET|DELETE /v1/files/{id}``,
  ``GET /v1/files/{id}/download`` (see ``files.py``); ``GET /_standin/files`` → its counters
  (uploads, inputs resolved from files, inputs refused and webhooks not sent in remote mode)

With ``api_token`` set, every ``/v1`` route answers 401 without the right
``Authorization: Bearer <token>`` (``Token <token>`` is accepted too, as Replicate does).

Rate limits, as Replicate's (per API token, see ``ratelimit.py``): the two create routes share
``create_limit_per_minute`` (600), every other ``/v1`` route ``other_limit_per_minute`` (3000);
over a limit the answer is 429 with ``Retry-After`` (whole seconds) and
``{"title", "detail": "Request was throttled. Your rate limit resets in ~Ns.", "status"}``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .files import MAX_MULTIPART_OVERHEAD, FileRequestError, parse_upload
from .ratelimit import retry_after_seconds, throttled_detail, token_label
from .settings import StandinSettings
from .store import MODELS, RateLimitError, StandinStore, UnknownModelError, check_token
from .validation import InvalidRequestError, validate_create

Handler = Callable[[Request], Awaitable[Response]]
_PREFER_WAIT_RE = re.compile(r"(?:^|[,;\s])wait(?:\s*=\s*(\d+))?", re.IGNORECASE)
_MAX_WAIT_SECONDS = 60


def problem(
    status: int,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A Replicate-style problem body ``{"title", "detail", "status", ...extra}``."""
    body: dict[str, Any] = {"title": title, "detail": detail, "status": status}
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers)


def _store(request: Request) -> StandinStore:
    return request.app.state.standin


def _api_base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def throttled(seconds: int) -> JSONResponse:
    """Replicate's 429: ``Retry-After`` in whole seconds and the same number in the detail."""
    return problem(
        429,
        "Request was throttled.",
        throttled_detail(seconds),
        headers={"Retry-After": str(seconds)},
    )


def _token(request: Request) -> str:
    return token_label(request.headers.get("authorization"))


def _api(scope: str | None) -> Callable[[Handler], Handler]:
    """A ``/v1`` route (or the stand-in's own, ``scope=None``): 401 without the token, then
    429 once the token's ``scope`` rate limit ("create" or "other") is used up."""

    def decorate(handler: Handler) -> Handler:
        async def wrapper(request: Request) -> Response:
            store = _store(request)
            if not check_token(store.settings.api_token, request.headers.get("authorization")):
                return problem(
                    401,
                    "Unauthenticated",
                    "You did not pass a valid authentication token",
                )
            if scope is not None:
                wait = store.throttle(scope, _token(request))
                if wait > 0:
                    return throttled(retry_after_seconds(wait))
            return await handler(request)

        wrapper.__name__ = handler.__name__
        wrapper.__doc__ = handler.__doc__
        return wrapper

    return decorate


_authenticated = _api("other")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, f"Invalid JSON body: {exc}") from exc


def _prefer_wait(request: Request) -> float | None:
    header = request.headers.get("prefer")
    if not header:
        return None
    match = _PREFER_WAIT_RE.search(header)
    if match is None:
        return None
    seconds = int(match.group(1)) if match.group(1) else _MAX_WAIT_SECONDS
    return float(max(1, min(seconds, _MAX_WAIT_SECONDS)))


async def _create(request: Request, model_name: str) -> Response:
    store = _store(request)
    if model_name not in MODELS:
        return problem(
            404,
            "Model not found",
            f"The requested model {model_name} could not be found.",
        )
    body = await _json_body(request)
    try:
        create_request = validate_create(body)
    except InvalidRequestError as exc:
        detail = "".join(f"- {f['field']}: {f['description']}\n" for f in exc.invalid_fields)
        return problem(422, "Input validation failed", detail, invalid_fields=exc.invalid_fields)
    token = _token(request)
    try:
        prediction = store.create(model_name, create_request, _api_base(request), caller=token)
    except UnknownModelError:  # pragma: no cover - checked above
        return problem(404, "Model not found", "The requested model could not be found.")
    except RateLimitError as exc:
        store.refund("create", token)  # the fault's 429 does not use up the caller's limit
        return throttled(exc.retry_after_seconds)
    wait = _prefer_wait(request)
    if wait is not None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            current = store.get_prediction(prediction["id"])
            if current is not None and current["status"] in ("succeeded", "failed", "canceled"):
                prediction = current
                break
            await asyncio.sleep(0.05)
        else:
            prediction = store.get_prediction(prediction["id"]) or prediction
    return JSONResponse(prediction, status_code=201)


@_api("create")
async def create_model_prediction(request: Request) -> Response:
    """POST /v1/models/{owner}/{name}/predictions"""
    owner = request.path_params["owner"]
    name = request.path_params["name"]
    return await _create(request, f"{owner}/{name}")


@_api("create")
async def create_prediction(request: Request) -> Response:
    """POST /v1/predictions (``version`` names the model or one of its versions)."""
    body = await _json_body(request)
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str) or not version:
        return problem(
            422,
            "Input validation failed",
            "- (root): version is required\n",
            invalid_fields=[{"type": "required", "field": "(root)", "description": "version is required"}],
        )
    by_version = {v: name for name, v in MODELS.items()}
    model_name = by_version.get(version) or version.split(":", 1)[0]
    return await _create(request, model_name)


@_authenticated
async def list_predictions(request: Request) -> Response:
    """GET /v1/predictions?cursor=..."""
    store = _store(request)
    after = before = None
    cursor = request.query_params.get("cursor")
    if cursor:
        decoded = _decode_cursor(cursor)
        if decoded is None:
            return problem(400, "Invalid cursor", "The cursor is not valid.")
        direction, seq = decoded
        if direction == "n":
            after = seq
        else:
            before = seq
    items, next_seq, previous_seq = store.page(after, before)
    base = f"{_api_base(request)}/v1/predictions"
    return JSONResponse(
        {
            "previous": f"{base}?cursor={_encode_cursor('p', previous_seq)}" if previous_seq is not None else None,
            "next": f"{base}?cursor={_encode_cursor('n', next_seq)}" if next_seq is not None else None,
            "results": items,
        }
    )


def _encode_cursor(direction: str, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{direction}:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, int] | None:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        direction, _, number = text.partition(":")
        if direction not in ("n", "p"):
            return None
        return direction, int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def _prediction_or_404(prediction: dict[str, Any] | None) -> Response:
    if prediction is None:
        return problem(404, "Not found", "The requested resource could not be found.")
    return JSONResponse(prediction)


@_authenticated
async def get_prediction(request: Request) -> Response:
    """GET /v1/predictions/{id}"""
    return _prediction_or_404(_store(request).get_prediction(request.path_params["id"]))


@_authenticated
async def cancel_prediction(request: Request) -> Response:
    """POST /v1/predictions/{id}/cancel"""
    return _prediction_or_404(_store(request).cancel(request.path_params["id"]))


@_authenticated
async def webhook_secret(request: Request) -> Response:
    """GET /v1/webhooks/default/secret"""
    return JSONResponse({"key": _store(request).webhook_secret})


async def delivery(request: Request) -> Response:
    """GET /delivery/{id}/{filename}: public, like replicate.delivery."""
    store = _store(request)
    output = store.output(request.path_params["id"], request.path_params["filename"])
    if output is None:
        return problem(404, "Not found", "The requested file could not be found.")
    if output.slow:
        await asyncio.sleep(store.settings.slow_seconds)
    return Response(
        output.data,
        media_type=output.content_type,
        headers={"cache-control": "private, max-age=3600"},
    )


@_api(None)
async def faults(request: Request) -> Response:
    """GET /_standin/faults (read-only)"""
    return JSONResponse(_store(request).fault_report())


async def _bounded_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 past ``limit`` bytes (never read whole first)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FileRequestError(413, "Payload too large", f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def _file_problem(exc: FileRequestError) -> JSONResponse:
    extra: dict[str, Any] = {}
    if exc.field is not None and exc.status == 422:
        extra["invalid_fields"] = [{"type": "invalid", "field": exc.field, "description": exc.detail.strip()}]
    return problem(exc.status, exc.title, exc.detail, **extra)


def _file_or_404(request: Request) -> Any:
    return _store(request).files.get(request.path_params["id"])


_NO_FILE = ("Not found", "The requested file could not be found.")


@_authenticated
async def create_file(request: Request) -> Response:
    """POST /v1/files (multipart: ``content``, optional ``filename``, ``type``, ``metadata``)"""
    files = _store(request).files
    try:
        body = await _bounded_body(request, files.max_file_bytes + MAX_MULTIPART_OVERHEAD)
        stored = files.create(parse_upload(request.headers.get("content-type"), body))
    except FileRequestError as exc:
        return _file_problem(exc)
    return JSONResponse(stored.to_json(_api_base(request)), status_code=201)


@_authenticated
async def list_files(request: Request) -> Response:
    """GET /v1/files (newest first, one page)"""
    results = [f.to_json(_api_base(request)) for f in _store(request).files.list()]
    return JSONResponse({"next": None, "previous": None, "results": results})


@_authenticated
async def get_file(request: Request) -> Response:
    """GET /v1/files/{id}"""
    stored = _file_or_404(request)
    return JSONResponse(stored.to_json(_api_base(request))) if stored else problem(404, *_NO_FILE)


@_authenticated
async def download_file(request: Request) -> Response:
    """GET /v1/files/{id}/download"""
    stored = _file_or_404(request)
    return Response(stored.data, media_type=stored.content_type) if stored else problem(404, *_NO_FILE)


@_authenticated
async def delete_file(request: Request) -> Response:
    """DELETE /v1/files/{id} → 204"""
    return Response(status_code=204) if _store(request).files.delete(request.path_params["id"]) else problem(404, *_NO_FILE)


@_api(None)
async def files_report(request: Request) -> Response:
    """GET /_standin/files (read-only; not Replicate's)"""
    return JSONResponse({"remote": _store(request).settings.remote, **_store(request).files.report()})


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    titles = {400: "Bad Request", 404: "Not found", 405: "Method not allowed"}
    detail = exc.detail if exc.status_code == 400 else titles.get(exc.status_code, "Error")
    return problem(exc.status_code, titles.get(exc.status_code, "Error"), str(detail))


def create_app(
    settings: StandinSettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    warm: bool = False,
) -> Starlette:
    """The stand-in app. ``app.state.standin`` is its ``StandinStore``.

    ``transport`` (tests) replaces the network for webhook delivery and image downloads. ``warm``:
    its worker and HTTP clients are ready when it starts serving (``StandinStore.warm``).
    """
    settings = settings or StandinSettings.from_env()
    store = StandinStore(settings, transport=transport)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if warm:
            await asyncio.to_thread(store.warm)
        try:
            yield
        finally:
            await asyncio.to_thread(store.close)

    app = Starlette(
        routes=[
            Route(
                "/v1/models/{owner}/{name}/predictions",
                create_model_prediction,
                methods=["POST"],
            ),
            Route("/v1/predictions", create_prediction, methods=["POST"]),
            Route("/v1/predictions", list_predictions, methods=["GET"]),
            Route("/v1/predictions/{id}", get_prediction, methods=["GET"]),
            Route("/v1/predictions/{id}/cancel", cancel_prediction, methods=["POST"]),
            Route("/v1/webhooks/default/secret", webhook_secret, methods=["GET"]),
            Route("/delivery/{id}/{filename}", delivery, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/_standin/faults", faults, methods=["GET"]),
            Route("/v1/files", create_file, methods=["POST"]),
            Route("/v1/files", list_files, methods=["GET"]),
            Route("/v1/files/{id}", get_file, methods=["GET"]),
            Route("/v1/files/{id}", delete_file, methods=["DELETE"]),
            Route("/v1/files/{id}/download", download_file, methods=["GET"]),
            Route("/_standin/files", files_report, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _http_exception},
        lifespan=lifespan,
    )
    app.state.standin = store
    app.state.settings = settings
    return app
