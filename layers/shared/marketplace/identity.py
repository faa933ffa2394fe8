"""Who is calling: the JWT's `sub` behind the authorizer, or X-Dev-User in development mode."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .config import get_settings
from .errors import Unauthorized, ValidationFailed

DEV_USER_HEADER = "x-dev-user"
DEFAULT_DEV_USER = "dev-user"
_USER_PATTERN = re.compile(r"^[A-Za-z0-9_.@:-]{1,128}$")


def resolve_owner(headers: Mapping[str, str], request_context: Mapping[str, Any]) -> str:
    if get_settings().dev_mode:
        user = next((v for k, v in headers.items() if k.lower() == DEV_USER_HEADER), None) or DEFAULT_DEV_USER
        if not _USER_PATTERN.match(user):
            raise ValidationFailed("X-Dev-User must be 1-128 of A-Z a-z 0-9 _ . @ : -", field="X-Dev-User")
        return user
    claims = ((request_context.get("authorizer") or {}).get("jwt") or {}).get("claims") or {}
    sub = claims.get("sub")
    if not sub:
        raise Unauthorized("no authenticated user", field="Authorization")
    return str(sub)
