"""WebSocket connections, stored twice: by connection (who owns it) and by owner (where to push)."""

from __future__ import annotations

import time

from .. import keys
from .table import Table, to_item, values

CONNECTION_TTL_SECONDS = 2 * 3600


class ConnectionRows:
    table: Table

    def put_connection(self, connection_id: str, owner: str) -> None:
        ttl = int(time.time()) + CONNECTION_TTL_SECONDS
        by_connection = {**keys.connection_ids(connection_id), "owner": owner, "ttl": ttl}
        by_owner = {**keys.owner_connection_ids(owner, connection_id), "connectionId": connection_id, "ttl": ttl}
        self.table.client.transact_write_items(
            TransactItems=[{"Put": {"TableName": self.table.name, "Item": to_item(row)}} for row in (by_connection, by_owner)]
        )

    def get_connection_owner(self, connection_id: str) -> str | None:
        row = self.table.get(keys.connection_key(connection_id))
        # TTL deletion lags by up to days: an expired row is treated as gone.
        if not row or row.get("ttl", 0) < time.time():
            return None
        return str(row["owner"])

    def delete_connection(self, connection_id: str, owner: str | None = None) -> None:
        owner = owner or self.get_connection_owner(connection_id)
        doomed = [keys.connection_key(connection_id)] + ([keys.owner_connection_key(owner, connection_id)] if owner else [])
        self.table.client.transact_write_items(
            TransactItems=[{"Delete": {"TableName": self.table.name, "Key": key}} for key in doomed]
        )

    def list_owner_connections(self, owner: str) -> list[str]:
        now = time.time()
        rows = self.table.query(
            KeyConditionExpression="PK = :pk AND begins_with(SK, :conn)",
            ExpressionAttributeValues=values(pk=keys.owner_pk(owner), conn=keys.CONN_PREFIX),
        )
        return [str(row["connectionId"]) for row in rows if row.get("ttl", 0) >= now]
