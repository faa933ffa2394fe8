"""HTTP API of the Car Marketplace: thin routes over marketplace.batches and friends."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from marketplace import batches, errors, presets, tickets, uploads, views
from marketplace.config import get_settings
from marketplace.http_errors import error_response, validation_error_response
from marketplace.identity import resolve_owner
from marketplace.models import (
    MAX_SOURCE_IMAGES,
    MAX_UPLOAD_BYTES,
    ColorizeAnswer,
    ColorizeRequest,
    ConfigAnswer,
    CreateBatchAnswer,
    CreateBatchRequest,
    GalleryAnswer,
    PresetsAnswer,
    TicketAnswer,
    UploadsAnswer,
    UploadsRequest,
)
from marketplace.observability import bind_batch, logger, metrics, per_invocation, tracer

app = APIGatewayHttpResolver(enable_validation=True)
BASE = "/api/car/marketplace"


def owner() -> str:
    event = app.current_event
    return resolve_owner(event.headers or {}, event.raw_event.get("requestContext") or {})


@app.get(f"{BASE}/config")
def get_config() -> ConfigAnswer:
    settings = get_settings()
    return ConfigAnswer(
        websocketUrl=settings.websocket_url, devMode=settings.dev_mode, maxSourceImages=MAX_SOURCE_IMAGES,
        maxUploadBytes=MAX_UPLOAD_BYTES, acceptedContentTypes=sorted(uploads.CONTENT_TYPES),
    )


@app.get(f"{BASE}/presets")
def get_presets() -> PresetsAnswer:
    owner()
    return PresetsAnswer.model_validate(views.presets_view(presets.get_presets()))


@app.post(f"{BASE}/uploads")
def create_uploads(request: Annotated[UploadsRequest, Body()]) -> UploadsAnswer:
    owner()
    return UploadsAnswer.model_validate(
        {"uploads": [uploads.create_upload(f.contentType, f.size) for f in request.files]}
    )


@app.post(f"{BASE}/batch")
def create_batch(
    request: Annotated[CreateBatchRequest, Body()],
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key", max_length=128)] = None,
) -> Response[CreateBatchAnswer]:
    answer = batches.create_batch(owner(), request, idempotency_key)
    return Response(202, content_types.APPLICATION_JSON, CreateBatchAnswer.model_validate(answer))


@app.get(f"{BASE}/batch/<batchId>")
def get_batch(batchId: str) -> dict[str, Any]:
    bind_batch(batchId)
    return batches.get_snapshot(owner(), batchId)


@app.post(f"{BASE}/batch/<batchId>/colorize")
def colorize(batchId: str, request: Annotated[ColorizeRequest, Body()]) -> Response[ColorizeAnswer]:
    answer = batches.colorize(owner(), batchId, request)
    return Response(202, content_types.APPLICATION_JSON, ColorizeAnswer.model_validate(answer))


@app.post(f"{BASE}/ws-ticket")
def ws_ticket() -> TicketAnswer:
    ticket, expires_at = tickets.issue_ticket(owner())
    return TicketAnswer(ticket=ticket, expiresAt=expires_at)


@app.get("/api/gallery")
def gallery(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    nextToken: Annotated[str | None, Query(max_length=2048)] = None,
) -> GalleryAnswer:
    return GalleryAnswer.model_validate(batches.list_gallery(owner(), limit, nextToken))


@app.get("/api/openapi.json")
def openapi() -> Response[str]:
    document = app.get_openapi_json_schema(title="Car Marketplace API", version="1.0.0")
    return Response(200, content_types.APPLICATION_JSON, document)


@app.exception_handler(RequestValidationError)
def on_invalid_request(error: RequestValidationError) -> Response[str]:
    return validation_error_response(error.errors())


@app.exception_handler(errors.DomainError)
def on_domain_error(error: errors.DomainError) -> Response[str]:
    return error_response(error)


@app.exception_handler(IdempotencyValidationError)
def on_idempotency_mismatch(error: IdempotencyValidationError) -> Response[str]:
    return error_response(errors.Conflict("Idempotency-Key was used with a different body", field="Idempotency-Key"))


@app.exception_handler(IdempotencyAlreadyInProgressError)
def on_idempotency_in_progress(error: IdempotencyAlreadyInProgressError) -> Response[str]:
    return error_response(errors.Conflict("a request with this Idempotency-Key is in progress", field="Idempotency-Key"))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@per_invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
