"""Which sourceImageUrls a batch may send to Replicate.

Rule (also in the README): a URL is accepted when it is one of this stack's own upload URLs
(an object under uploads/ in this stack's bucket, as POST /uploads hands out), or when it is https
on a host listed in SOURCE_URL_ALLOWED_HOSTS whose every address is public. Everything else is a 4xx:
other schemes (file:, ftp:, data:, http:), credentials in the URL, IP literals, loopback,
link-local (169.254.169.254), private and IPv6-local ranges, and names that resolve to them.
We never fetch source URLs ourselves, so redirects cannot reach us; Replicate fetches them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from botocore.exceptions import ClientError

from .aws import s3_client
from .config import get_settings
from .errors import ValidationFailed
from .uploads import UPLOAD_PREFIX
from .urls import object_url

Resolver = Callable[[str], list[str]]


def _resolve(host: str) -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError):
        return []


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return ip.is_global and not ip.is_multicast


def own_upload_key(url: str) -> str | None:
    """The S3 key when url points into this stack's uploads/, else None."""
    settings = get_settings()
    parts = urlsplit(url)
    path = unquote(parts.path)
    if settings.public_asset_base_url:
        base = urlsplit(settings.public_asset_base_url)
        prefix = base.path.rstrip("/") + "/"
        if (parts.scheme, parts.netloc) == (base.scheme, base.netloc) and path.startswith(prefix):
            key = path[len(prefix) :]
            return key if _is_upload_key(key) else None
    endpoint = settings.aws_endpoint_url
    bucket = settings.bucket_name
    if endpoint:
        ep = urlsplit(endpoint)
        if (parts.scheme, parts.netloc) == (ep.scheme, ep.netloc) and path.startswith(f"/{bucket}/"):
            key = path[len(bucket) + 2 :]
            return key if _is_upload_key(key) else None
        return None
    if parts.scheme != "https":
        return None
    host = (parts.hostname or "").lower()
    if host.startswith("s3.") and host.endswith(".amazonaws.com") and path.startswith(f"/{bucket}/"):
        key = path[len(bucket) + 2 :]
    elif (host.startswith(f"{bucket}.s3.") and host.endswith(".amazonaws.com")) or host == f"{bucket}.s3.amazonaws.com":
        key = path[1:]
    else:
        return None
    return key if _is_upload_key(key) else None


def _is_upload_key(key: str) -> bool:
    return key.startswith(UPLOAD_PREFIX) and ".." not in key and "/" not in key[len(UPLOAD_PREFIX) :]


def sniff_image_type(head: bytes) -> str | None:
    """The image type from its first bytes (never trust the extension or the declared type)."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return "image/heic"
    return None


def preview_urls(urls: list[str]) -> list[str]:
    """URLs a browser can show the batch's source photos with: this stack's own uploads signed
    anew (the URL stored at creation dies with the credentials that signed it), others as given."""
    out = []
    for url in urls:
        key = own_upload_key(url)
        out.append(object_url(key) if key is not None else url)
    return out


def check_uploaded_image(key: str, field: str) -> None:
    """The upload must exist (the PUT finished) and its bytes must be an accepted image type."""
    try:
        answer = s3_client().get_object(Bucket=get_settings().bucket_name, Key=key, Range="bytes=0-31")
    except ClientError as error:
        if error.response["Error"]["Code"] in ("NoSuchKey", "404", "InvalidRange"):
            raise ValidationFailed("upload not found: PUT the file to its uploadUrl first", field=field) from error
        raise
    if sniff_image_type(answer["Body"].read()) is None:
        raise ValidationFailed("uploaded file is not a JPEG, PNG, WebP or HEIC/HEIF image", field=field)


def check_source_url(url: str, field: str, resolver: Resolver | None = None) -> None:
    """Returns when ``url`` may be sent to Replicate; raises ValidationFailed naming ``field``
    otherwise (and nothing else, whatever the string: see tests/unit/api/test_source_url_properties.py)."""
    if len(url) > 4096:
        raise ValidationFailed("URL is longer than 4096 characters", field=field)
    try:
        urlsplit(url)  # malformed brackets ("https://[::1"), NFKC tricks in the host ("https://\u2100/")
    except ValueError:
        raise ValidationFailed("URL is not well-formed", field=field) from None
    key = own_upload_key(url)
    if key is not None:
        check_uploaded_image(key, field)
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ValidationFailed("must be an https URL or an upload URL from this API", field=field)
    if parts.username or parts.password:
        raise ValidationFailed("credentials in URLs are not allowed", field=field)
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise ValidationFailed("URL has no host", field=field)
    try:
        ipaddress.ip_address(host)
        raise ValidationFailed("IP address hosts are not allowed", field=field)
    except ValueError:
        pass
    if host not in get_settings().source_url_allowed_hosts:
        raise ValidationFailed(f"host {host} is not on the allow-list", field=field)
    addresses = (resolver or _resolve)(host)
    if not addresses or not all(_is_public(a) for a in addresses):
        raise ValidationFailed(f"host {host} does not resolve to public addresses only", field=field)
