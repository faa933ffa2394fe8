"""An owner's gallery: every image ever made, newest first, paged with owner-bound tokens; and one
batch's images out of it (``batch_id``)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from .. import keys
from ..domain import Asset
from ..errors import ValidationFailed
from .table import Table, from_item, values

# One filtered page reads at most this many query pages (1 MB each) before it answers with what it
# found and a nextToken: an old batch under many newer images never holds a request for long.
MAX_FILTERED_QUERY_PAGES = 8

RowIds = Callable[[object, str], "dict[str, str] | None"]


class GalleryRows:
    table: Table

    def list_gallery(self, owner: str, limit: int, next_token: str | None, batch_id: str | None = None,
                     since: str | None = None) -> tuple[list[Asset], str | None]:
        """Newest first. The token is the opaque last evaluated key (validated on the way in). With
        ``batch_id``: only that batch's images, read from the owner's assets made at or after
        ``since`` (the batch's creation), so the query ends where the batch began."""
        if batch_id is not None:
            return self._batch_gallery(owner, limit, next_token, batch_id, since or "")
        items, token = owner_page(self.table, owner, keys.ASSET_PREFIX, limit, next_token)
        return _assets(items), token

    def _batch_gallery(self, owner: str, limit: int, next_token: str | None, batch_id: str,
                       since: str) -> tuple[list[Asset], str | None]:
        """A filtered query: DynamoDB's ``Limit`` counts rows read, not rows kept, so pages are read
        until ``limit`` images are found, and the token is the key of the last one returned."""
        low, high = keys.asset_sk_range(since)
        start = decode_token(next_token, owner) if next_token else None
        if start is not None and start["SK"]["S"] < low:
            return [], None  # a token from before the batch began: nothing of it lies further on
        kwargs: dict[str, Any] = {
            "TableName": self.table.name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "FilterExpression": "batchId = :batch",
            "ExpressionAttributeValues": values(pk=keys.owner_pk(owner), low=low, high=high, batch=batch_id),
            "ScanIndexForward": False,
        }
        found: list[dict[str, Any]] = []
        for _ in range(MAX_FILTERED_QUERY_PAGES):
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            answer = self.table.client.query(**kwargs)
            items = answer.get("Items", [])
            last = answer.get("LastEvaluatedKey")
            room = limit - len(found)
            found.extend(items[:room])
            if len(items) > room or (len(found) == limit and last):
                return _assets(found), encode_token({"PK": found[-1]["PK"], "SK": found[-1]["SK"]})
            if not last:
                return _assets(found), None
            start = last
        return _assets(found), encode_token(start) if start else None


def _assets(items: list[dict[str, Any]]) -> list[Asset]:
    return [Asset.model_validate(from_item(i)) for i in items]


def owner_page(table: Table, owner: str, prefix: str, limit: int, next_token: str | None,
               row_ids: RowIds = keys.owner_asset_ids) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the owner's rows of one kind (``prefix``), newest first, and the next page's
    token (bound to the owner and the kind, see ``decode_token``)."""
    kwargs: dict[str, Any] = {
        "TableName": table.name,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
        "ExpressionAttributeValues": values(pk=keys.owner_pk(owner), prefix=prefix),
        "ScanIndexForward": False,
        "Limit": limit,
    }
    if next_token:
        kwargs["ExclusiveStartKey"] = decode_token(next_token, owner, row_ids)
    answer = table.client.query(**kwargs)
    last = answer.get("LastEvaluatedKey")
    return answer.get("Items", []), (encode_token(last) if last else None)


def encode_token(key: dict[str, Any]) -> str:
    plain = {k: v["S"] for k, v in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_token(token: str, owner: str, row_ids: RowIds = keys.owner_asset_ids) -> dict[str, Any]:
    """The key a page token names, if it is one of ``owner``'s rows of the listed kind (``row_ids``:
    gallery assets by default); anything else is a 422 naming ``nextToken``."""
    try:
        padded = token + "=" * (-len(token) % 4)
        plain = row_ids(json.loads(base64.urlsafe_b64decode(padded.encode())), owner)
        if plain is None:
            raise ValueError("not one of the owner's rows")
        return keys.typed(plain)
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValidationFailed("nextToken is not a token this API issued", field="nextToken") from error
