"""An owner's gallery: every image ever made, newest first, paged with owner-bound tokens."""

from __future__ import annotations

import base64
import json
from typing import Any

from .. import keys
from ..domain import Asset
from ..errors import ValidationFailed
from .table import Table, from_item, values


class GalleryRows:
    table: Table

    def list_gallery(self, owner: str, limit: int, next_token: str | None) -> tuple[list[Asset], str | None]:
        """Newest first. The token is the opaque last evaluated key (validated on the way in)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :asset)",
            "ExpressionAttributeValues": values(pk=keys.owner_pk(owner), asset=keys.ASSET_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if next_token:
            kwargs["ExclusiveStartKey"] = decode_token(next_token, owner)
        answer = self.table.client.query(**kwargs)
        assets = [Asset.model_validate(from_item(i)) for i in answer.get("Items", [])]
        last = answer.get("LastEvaluatedKey")
        return assets, (encode_token(last) if last else None)


def encode_token(key: dict[str, Any]) -> str:
    plain = {k: v["S"] for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, owner: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        row_ids = keys.owner_asset_ids(json.loads(base64.urlsafe_b64decode(padded.encode())), owner)
        if row_ids is None:
            raise ValueError("not one of the owner's asset keys")
        return keys.typed(row_ids)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationFailed("nextToken is not a token this API issued", field="nextToken") from error
