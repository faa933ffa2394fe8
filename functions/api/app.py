"""HTTP API of the Car Marketplace: thin routes over marketplace.batches and friends."""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from marketplace import batches, control, errors, presets, tickets, uploads, views
from marketplace.archive import service as archives
from marketplace.config import get_settings
from marketplace.http_errors import error_body, error_response, validation_error_response
from marketplace.identity import resolve_owner
from marketplace.models import (
    BATCH_ID_PATTERN,
    MAX_SOURCE_IMAGES,
    MAX_UPLOAD_BYTES,
    BatchListAnswer,
    BatchSnapshot,
    CancelAnswer,
    ColorizeAnswer,
    ColorizeRequest,
    ConfigAnswer,
    CreateBatchAnswer,
    CreateBatchRequest,
    ErrorAnswer,
    GalleryAnswer,
    GatewayMessage,
    PresetsAnswer,
    RetryAnswer,
    RetryRequest,
    TicketAnswer,
    UploadsAnswer,
    UploadsRequest,
)
from marketplace.observability import bind_batch, lambda_entry


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_body(text: str) -> Any:
    """Strict JSON: no NaN/Infinity; nesting deeper than the parser's recursion limit (~1,000) and
    integers over 4,300 digits are refused. Anything the parser cannot take is a JSONDecodeError,
    which the validation layer turns into a 422 (never a 500)."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:  # e.g. an integer of more than 4,300 digits
        raise json.JSONDecodeError(f"invalid JSON value: {type(error).__name__}", text[:64], 0) from None


app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=parse_json_body)
BASE = "/api/car/marketplace"
BatchId = Annotated[str, Path(pattern=BATCH_ID_PATTERN, description="the batchId POST /batch answered")]


def _error(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": ErrorAnswer}}}


def _ok(status: int, model: type, description: str = "Successful Response") -> dict[int, OpenAPIResponse]:
    return {status: {"description": description, "content": {"application/json": {"model": model}}}}


# Documented answers (the OpenAPI document is what schemathesis checks responses against).
USER = {
    401: _error("no authenticated user (deployed: JWT authorizer)"),
    422: _error("invalid input; `error.field` names it (also a malformed X-Dev-User in development mode)"),
}
BODY = {
    413: {"description": "body larger than API Gateway's 10 MB",
          "content": {"application/json": {"model": GatewayMessage}}},
    415: _error("body is not JSON"),
}
PRESETS = {503: _error("the preset sheets cannot be read and no last good copy exists")}
MISSING = {404: _error("no such batch for this user")}
RETRY_EVERY_FAILED = RetryRequest()  # no body, or no `cells`: every failed or canceled cell


def owner() -> str:
    event = app.current_event
    return resolve_owner(event.headers or {}, event.raw_event.get("requestContext") or {})


@app.get(f"{BASE}/config", responses={**_ok(200, ConfigAnswer)})
def get_config() -> ConfigAnswer:
    settings = get_settings()
    return ConfigAnswer(
        websocketUrl=settings.websocket_url, devMode=settings.dev_mode, maxSourceImages=MAX_SOURCE_IMAGES,
        maxUploadBytes=MAX_UPLOAD_BYTES, acceptedContentTypes=sorted(uploads.CONTENT_TYPES),
    )


@app.get(f"{BASE}/presets", responses={**_ok(200, PresetsAnswer), **USER, **PRESETS})
def get_presets() -> PresetsAnswer:
    owner()
    return PresetsAnswer.model_validate(views.presets_view(presets.get_presets(), get_settings().price_per_image_usd))


@app.post(f"{BASE}/uploads", responses={**_ok(200, UploadsAnswer), **USER, **BODY})
def create_uploads(request: Annotated[UploadsRequest, Body()]) -> UploadsAnswer:
    owner()
    return UploadsAnswer.model_validate(
        {"uploads": [uploads.create_upload(f.contentType, f.size) for f in request.files]}
    )


@app.post(
    f"{BASE}/batch",
    status_code=202,
    responses={**_ok(202, CreateBatchAnswer, "Accepted: the cells are queued"), **USER, **BODY, **PRESETS,
               409: _error("Idempotency-Key reused with another body, or still in progress")},
)
def create_batch(
    request: Annotated[CreateBatchRequest, Body()],
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key", max_length=128)] = None,
) -> Response[CreateBatchAnswer]:
    answer = batches.create_batch(owner(), request, idempotency_key)
    return Response(202, content_types.APPLICATION_JSON, CreateBatchAnswer.model_validate(answer))


@app.get(f"{BASE}/batch/<batchId>", responses={**_ok(200, BatchSnapshot), **USER, **MISSING})
def get_batch(batchId: BatchId) -> BatchSnapshot:
    bind_batch(batchId)
    return BatchSnapshot.model_validate(batches.get_snapshot(owner(), batchId))


@app.post(
    f"{BASE}/batch/<batchId>/colorize",
    status_code=202,
    responses={**_ok(202, ColorizeAnswer, "Accepted: colour cells queued for finished angles"), **USER, **BODY,
               **MISSING, **PRESETS, 409: _error("an angle named is not finished")},
)
def colorize(batchId: BatchId, request: Annotated[ColorizeRequest, Body()]) -> Response[ColorizeAnswer]:
    answer = batches.colorize(owner(), batchId, request)
    return Response(202, content_types.APPLICATION_JSON, ColorizeAnswer.model_validate(answer))


@app.post(
    f"{BASE}/batch/<batchId>/retry",
    status_code=202,
    responses={**_ok(202, RetryAnswer, "Accepted: the cells run again as their next attempt"), **USER, **BODY,
               **MISSING, 409: _error("a cell named is still queued or processing, or nothing to retry")},
)
def retry(batchId: BatchId, request: Annotated[RetryRequest, Body()] = RETRY_EVERY_FAILED) -> Response[RetryAnswer]:
    """Runs cells again: the ones named (any terminal cell; a completed one is regenerated), or
    without ``cells`` every failed or canceled cell. A retried angle re-runs its colour cells."""
    answer = control.retry(owner(), batchId, request)
    return Response(202, content_types.APPLICATION_JSON, RetryAnswer.model_validate(answer))


@app.post(
    f"{BASE}/batch/<batchId>/cancel",
    status_code=202,
    responses={**_ok(202, CancelAnswer, "Accepted: the batch stopped; its open cells are canceled"), **USER,
               **MISSING, 409: _error("the batch has already finished")},
)
def cancel(batchId: BatchId) -> Response[CancelAnswer]:
    """Stops the batch: its runs, every prediction in flight (cancelled at Replicate) and its
    queued cells; finished images stay. Cancelling twice is harmless."""
    answer = control.cancel(owner(), batchId)
    return Response(202, content_types.APPLICATION_JSON, CancelAnswer.model_validate(answer))


ARCHIVE_ANSWERS = {**USER, **MISSING, 503: _error("the archive builder could not be started; try again")}


def _archive_answer(status: int, answer: dict[str, Any]) -> Response[str]:
    body = archives.ArchiveAnswer.model_validate(answer).model_dump_json(exclude_none=True)
    return Response(status, content_types.APPLICATION_JSON, body)


@app.post(
    f"{BASE}/batch/<batchId>/archive",
    status_code=202,
    responses={**_ok(202, archives.ArchiveAnswer, "Accepted: the ZIP is building (asking again while it builds "
                                                  "changes nothing; once ready or failed, it rebuilds)"),
               **ARCHIVE_ANSWERS},
)
def request_archive(batchId: BatchId) -> Response[str]:
    """Builds the batch's ZIP off the request path: every completed cell's PNG, matrix.png and
    manifest.json. The owner's pages get marketplaceArchiveReady {batchId, url} when it is ready."""
    return _archive_answer(202, archives.request_archive(owner(), batchId))


@app.get(
    f"{BASE}/batch/<batchId>/archive",
    responses={**_ok(200, archives.ArchiveAnswer, "building, ready (url re-signed on every read) or failed"),
               **USER, 404: _error("no such batch for this user, or no archive asked for yet")},
)
def get_archive(batchId: BatchId) -> Response[str]:
    return _archive_answer(200, archives.archive_state(owner(), batchId))


@app.post(f"{BASE}/ws-ticket", responses={**_ok(200, TicketAnswer), **USER})
def ws_ticket() -> TicketAnswer:
    ticket, expires_at = tickets.issue_ticket(owner())
    return TicketAnswer(ticket=ticket, expiresAt=expires_at)


@app.get("/api/gallery", responses={**_ok(200, GalleryAnswer), **USER,
                                    404: _error("batchId names no batch of this user")})
def gallery(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    nextToken: Annotated[str | None, Query(max_length=2048)] = None,
    batchId: Annotated[str | None, Query(pattern=BATCH_ID_PATTERN,
                                         description="only this batch's images (one of the user's batches)")] = None,
) -> GalleryAnswer:
    return GalleryAnswer.model_validate(batches.list_gallery(owner(), limit, nextToken, batchId))


@app.get(f"{BASE}/batches", responses={**_ok(200, BatchListAnswer), **USER})
def list_batches(
    limit: Annotated[int, Query(ge=1, le=50, description="batches per page (each reads its cells)")] = 20,
    nextToken: Annotated[str | None, Query(max_length=2048)] = None,
) -> BatchListAnswer:
    return BatchListAnswer.model_validate(batches.list_batches(owner(), limit, nextToken))


@app.get(
    "/api/openapi.json",
    responses={200: {"description": "this document (OpenAPI 3.1)",
                     "content": {"application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}}}},
)
def openapi() -> Response[str]:
    document = app.get_openapi_json_schema(title="Car Marketplace API", version="1.0.0")
    return Response(200, content_types.APPLICATION_JSON, document)


@app.exception_handler(RequestValidationError)
def on_invalid_request(error: RequestValidationError) -> Response[str]:
    return validation_error_response(error.errors())


@app.exception_handler(RequestUnsupportedContentType)
def on_unsupported_content_type(error: RequestUnsupportedContentType) -> Response[str]:
    return Response(415, content_types.APPLICATION_JSON,
                    error_body("unsupported_media_type", "send the body as application/json", "body"))


@app.exception_handler(UnicodeDecodeError)
def on_undecodable_body(error: UnicodeDecodeError) -> Response[str]:
    # Raised while the resolver decodes a base64 body that is not UTF-8 (before any route code).
    return Response(422, content_types.APPLICATION_JSON, error_body("validation_failed", "body is not UTF-8 text", "body"))


@app.exception_handler(errors.DomainError)
def on_domain_error(error: errors.DomainError) -> Response[str]:
    return error_response(error)


@lambda_entry(correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    batches.register_lambda_context(context)
    return app.resolve(event, context)
