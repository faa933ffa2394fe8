"""WebSocket connections, stored twice: by connection (who owns it) and in one row per owner
(where to push: one attribute per open connection, its value the expiry), which a pusher reads in
the same round trip as the cell it pushes."""

from __future__ import annotations

import time
from typing import Any

from .. import keys
from ..domain import Cell
from .table import Table, to_item, values

CONNECTION_TTL_SECONDS = 2 * 3600


class ConnectionRows:
    table: Table

    def put_connection(self, connection_id: str, owner: str) -> None:
        ttl = int(time.time()) + CONNECTION_TTL_SECONDS
        by_connection = {**keys.connection_ids(connection_id), "owner": owner, "ttl": ttl}
        self.table.client.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table.name, "Item": to_item(by_connection)}},
            {"Update": {"TableName": self.table.name, "Key": keys.owner_connections_key(owner),
                        "UpdateExpression": "SET #connection = :ttl",
                        "ExpressionAttributeNames": {"#connection": keys.owner_connection_attribute(connection_id)},
                        "ExpressionAttributeValues": values(ttl=ttl)}},
        ])

    def get_connection_owner(self, connection_id: str) -> str | None:
        row = self.table.get(keys.connection_key(connection_id))
        # TTL deletion lags by up to days: an expired row is treated as gone.
        if not row or row.get("ttl", 0) < time.time():
            return None
        return str(row["owner"])

    def delete_connection(self, connection_id: str, owner: str | None = None) -> None:
        owner = owner or self.get_connection_owner(connection_id)
        doomed: list[dict[str, Any]] = [{"Delete": {"TableName": self.table.name, "Key": keys.connection_key(connection_id)}}]
        if owner:
            doomed.append({"Update": {"TableName": self.table.name, "Key": keys.owner_connections_key(owner),
                                      "UpdateExpression": "REMOVE #connection",
                                      "ExpressionAttributeNames": {
                                          "#connection": keys.owner_connection_attribute(connection_id)}}})
        self.table.client.transact_write_items(TransactItems=doomed)

    def list_owner_connections(self, owner: str) -> list[str]:
        return open_connections(self.table.get(keys.owner_connections_key(owner)))

    def get_cell_and_connections(self, batch_id: str, angle_key: str, color_key: str | None,
                                 owner: str) -> tuple[Cell | None, list[str]]:
        """The cell and its owner's open connections in one round trip."""
        cell, connections = self.table.get_many([keys.cell_key(batch_id, angle_key, color_key),
                                                 keys.owner_connections_key(owner)])
        return (Cell.model_validate(cell) if cell else None), open_connections(connections)


def open_connections(row: dict[str, Any] | None) -> list[str]:
    """The connection ids of an owner's row whose expiry has not passed (expired ones are left to
    be overwritten or removed: a 410 Gone or $disconnect removes them)."""
    now = time.time()
    prefix = keys.CONN_PREFIX
    return sorted(name[len(prefix):] for name, expiry in (row or {}).items()
                  if name.startswith(prefix) and isinstance(expiry, int | float) and expiry >= now)
