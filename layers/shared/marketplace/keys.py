"""Every DynamoDB key of the single table, built in one place (see docs/ARCHITECTURE.md).

``*_ids`` give the plain ``{"PK", "SK"}`` of a row (to spread into an item); ``*_key`` give the
typed form boto3's ``Key=`` takes."""

from __future__ import annotations

from typing import Any

META = "META"
NO_COLOR = "-"
PENDING = "PENDING"  # GSI1PK of a cell whose prediction is in flight
CELL_PREFIX = "CELL#"
CONN_PREFIX = "CONN#"
ASSET_PREFIX = "ASSET#"
OWNER_PREFIX = "OWNER#"
OWNER_BATCH_PREFIX = "BATCH#"  # SK of an owner's batch index rows: BATCH#{createdAt}#{batchId}
_PACER_PK = "PACER#replicate-creates"
_CONNECTION_SK = "CONN"
_OWNER_CONNECTIONS_SK = "CONNECTIONS"
_ASSET_GUARD_SK = "ASSET"
_ARCHIVE_SK = "ARCHIVE"


def ids(pk: str, sk: str) -> dict[str, str]:
    return {"PK": pk, "SK": sk}


def typed(row_ids: dict[str, str]) -> dict[str, Any]:
    return {name: {"S": value} for name, value in row_ids.items()}


def batch_pk(batch_id: str) -> str:
    return f"BATCH#{batch_id}"


def batch_ids(batch_id: str) -> dict[str, str]:
    return ids(batch_pk(batch_id), META)


def batch_key(batch_id: str) -> dict[str, Any]:
    return typed(batch_ids(batch_id))


def cell_sk(angle_key: str, color_key: str | None) -> str:
    return f"{CELL_PREFIX}{angle_key}#{color_key or NO_COLOR}"


def cell_ids(batch_id: str, angle_key: str, color_key: str | None) -> dict[str, str]:
    return ids(batch_pk(batch_id), cell_sk(angle_key, color_key))


def cell_key(batch_id: str, angle_key: str, color_key: str | None) -> dict[str, Any]:
    return typed(cell_ids(batch_id, angle_key, color_key))


def archive_ids(batch_id: str) -> dict[str, str]:
    """The batch's ZIP export: its state (building/ready/failed) and where the ZIP is."""
    return ids(batch_pk(batch_id), _ARCHIVE_SK)


def archive_key(batch_id: str) -> dict[str, Any]:
    return typed(archive_ids(batch_id))


def archive_object_key(batch_id: str, build_id: str) -> str:
    """S3 key of one build's ZIP (each build its own object: a rebuild never changes the bytes
    behind a URL already handed out)."""
    return f"batches/{batch_id}/archive/{build_id}.zip"


def owner_pk(owner: str) -> str:
    return f"{OWNER_PREFIX}{owner}"


def owner_batch_ids(owner: str, created_at: str, batch_id: str) -> dict[str, str]:
    return ids(owner_pk(owner), f"{OWNER_BATCH_PREFIX}{created_at}#{batch_id}")


def pacer_key() -> dict[str, Any]:
    """The one shared schedule of prediction creates (``store.pacer``)."""
    return typed(ids(_PACER_PK, _PACER_PK))


def connection_pk(connection_id: str) -> str:
    return f"{CONN_PREFIX}{connection_id}"


def connection_ids(connection_id: str) -> dict[str, str]:
    return ids(connection_pk(connection_id), _CONNECTION_SK)


def connection_key(connection_id: str) -> dict[str, Any]:
    return typed(connection_ids(connection_id))


def owner_connections_key(owner: str) -> dict[str, Any]:
    """One row per owner listing its open connections (one attribute each): read in the same
    round trip as a cell (``BatchGetItem``) by whoever pushes that cell."""
    return typed(ids(owner_pk(owner), _OWNER_CONNECTIONS_SK))


def owner_connection_attribute(connection_id: str) -> str:
    return f"{CONN_PREFIX}{connection_id}"


def asset_id(batch_id: str, angle_key: str, color_key: str | None, attempt: int = 1) -> str:
    """One gallery asset per image made: a retried cell's later attempts are assets of their own."""
    base = f"{batch_id}.{angle_key}.{color_key or 'angle'}"
    return base if attempt <= 1 else f"{base}.{attempt}"


def asset_ids(owner: str, created_at: str, asset: str) -> dict[str, str]:
    return ids(owner_pk(owner), f"{ASSET_PREFIX}{created_at}#{asset}")


def asset_guard_ids(asset: str) -> dict[str, str]:
    """Makes a gallery asset exactly-once inside the completing transaction."""
    return ids(f"{ASSET_PREFIX}{asset}", _ASSET_GUARD_SK)


def owner_asset_ids(token_ids: object, owner: str) -> dict[str, str] | None:
    """A gallery page token's key if it is one of owner's asset rows, else None."""
    return _owner_row_ids(token_ids, owner, ASSET_PREFIX)


def owner_batch_row_ids(token_ids: object, owner: str) -> dict[str, str] | None:
    """A batch list page token's key if it is one of owner's batch index rows, else None."""
    return _owner_row_ids(token_ids, owner, OWNER_BATCH_PREFIX)


def _owner_row_ids(token_ids: object, owner: str, sk_prefix: str) -> dict[str, str] | None:
    if not isinstance(token_ids, dict) or set(token_ids) != {"PK", "SK"}:
        return None
    pk, sk = token_ids["PK"], str(token_ids["SK"])
    return ids(pk, sk) if pk == owner_pk(owner) and sk.startswith(sk_prefix) else None


def asset_sk_range(since: str) -> tuple[str, str]:
    """``SK BETWEEN`` bounds of an owner's assets made at or after ``since`` (an ISO time): every
    asset SK starts with ``ASSET#``, and ``$`` is the character after ``#``."""
    return f"{ASSET_PREFIX}{since}", ASSET_PREFIX[:-1] + "$"
