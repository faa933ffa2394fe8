"""BuildArchive: a batch's ZIP (every completed cell's PNG, matrix.png, manifest.json), invoked
asynchronously by the API's POST /batch/{batchId}/archive; streamed from S3 to S3."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from marketplace.models import BATCH_ID_PATTERN
from marketplace.observability import bind, lambda_entry


class BuildArchiveEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    batchId: str = Field(pattern=BATCH_ID_PATTERN)
    buildId: str = Field(pattern=r"^[0-9a-f]{32}$")


@lambda_entry()
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = BuildArchiveEvent.model_validate(event)
    bind(batch_id=request.batchId, build_id=request.buildId)
    from marketplace.archive.build import build_archive  # the builder's imports stay off the cold start

    return {"batchId": request.batchId, **build_archive(request.batchId, request.buildId)}
