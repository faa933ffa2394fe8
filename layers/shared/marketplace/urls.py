"""URLs for stored objects: a public base when configured, else presigned GETs."""

from __future__ import annotations

from urllib.parse import quote

from .aws import s3_client
from .config import get_settings

# SigV4 presigned URLs live at most 7 days: long enough for Replicate (it fetches within minutes)
# and for a browser session; snapshots re-sign on every read.
PRESIGNED_GET_SECONDS = 7 * 24 * 3600


def object_url(key: str, expires_in: int = PRESIGNED_GET_SECONDS) -> str:
    settings = get_settings()
    if settings.public_asset_base_url:
        return f"{settings.public_asset_base_url}/{quote(key)}"
    return str(
        s3_client().generate_presigned_url(
            "get_object", Params={"Bucket": settings.bucket_name, "Key": key}, ExpiresIn=expires_in
        )
    )
