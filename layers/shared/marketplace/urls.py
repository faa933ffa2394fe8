"""URLs for stored objects: a public base when configured, else presigned GETs."""

from __future__ import annotations

from urllib.parse import quote

from .aws import s3_client
from .config import get_settings

# SigV4 allows 7 days, but a URL signed with a Lambda role's temporary credentials dies with them
# (hours): browsers get URLs re-signed on every read, Replicate gets one signed as it is handed over.
PRESIGNED_GET_SECONDS = 7 * 24 * 3600
# Replicate fetches a prediction's inputs when it starts, usually within seconds; an hour covers a
# queue at Replicate.
HANDOVER_URL_SECONDS = 3600


def object_url(key: str, expires_in: int = PRESIGNED_GET_SECONDS) -> str:
    settings = get_settings()
    if settings.public_asset_base_url:
        return f"{settings.public_asset_base_url}/{quote(key)}"
    return str(
        s3_client().generate_presigned_url(
            "get_object", Params={"Bucket": settings.bucket_name, "Key": key}, ExpiresIn=expires_in
        )
    )
