"""Browser uploads: one presigned PUT per file; the bytes land in S3 exactly as sent."""

from __future__ import annotations

import uuid
from typing import Any

from .aws import s3_client
from .config import get_settings
from .urls import object_url

UPLOAD_PREFIX = "uploads/"
PUT_URL_SECONDS = 15 * 60
MAX_UPLOAD_BYTES = 30 * 1024 * 1024
CONTENT_TYPES = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/heic": "heic",
    "image/heif": "heif",
}


def create_upload(content_type: str, size: int) -> dict[str, Any]:
    """The signed PUT binds content type and length, so S3 refuses other bytes."""
    key = f"{UPLOAD_PREFIX}{uuid.uuid4().hex}.{CONTENT_TYPES[content_type]}"
    url = s3_client().generate_presigned_url(
        "put_object",
        Params={
            "Bucket": get_settings().bucket_name,
            "Key": key,
            "ContentType": content_type,
            "ContentLength": size,
        },
        ExpiresIn=PUT_URL_SECONDS,
    )
    return {
        "uploadUrl": url,
        "headers": {"Content-Type": content_type},
        "sourceImageUrl": object_url(key),
    }
