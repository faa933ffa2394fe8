"""The shared schedule of prediction creates (see ``marketplace.pacing``): one item whose
``nextMs`` is the first free slot. A reservation is one atomic ADD; only after a quiet spell
(the schedule lies further in the past than the burst allows) a second, conditional write moves
it up to now minus the burst."""

from __future__ import annotations

from typing import Any

from .. import keys
from .table import Table, conditional, values

_MAX_ATTEMPTS = 4


class PacerRows:
    table: Table

    def reserve_create_slots(self, count: int, interval_ms: int, burst_ms: int, now_ms: int) -> int:
        """Reserves ``count`` consecutive slots; returns the first one's time (epoch ms, possibly
        in the past by at most ``burst_ms``: due now)."""
        span = count * interval_ms
        earliest = now_ms - burst_ms
        start = earliest
        for _ in range(_MAX_ATTEMPTS):
            answer = self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.pacer_key(),
                UpdateExpression="ADD nextMs :span",
                ExpressionAttributeValues=values(span=span),
                ReturnValues="UPDATED_NEW",
            )
            after = _int(answer["Attributes"]["nextMs"])
            start = after - span
            if start >= earliest:
                return start
            # Quiet spell: the schedule is behind. Move it to `earliest` unless another
            # reservation moved it first (then take a slot again).
            with conditional() as moved:
                self.table.client.update_item(
                    TableName=self.table.name,
                    Key=keys.pacer_key(),
                    UpdateExpression="SET nextMs = :next",
                    ConditionExpression="nextMs = :seen",
                    ExpressionAttributeValues=values(next=earliest + span, seen=after),
                )
            if moved.held:
                return earliest
        return max(start, earliest)


def _int(attribute: dict[str, Any]) -> int:
    return int(attribute["N"])
