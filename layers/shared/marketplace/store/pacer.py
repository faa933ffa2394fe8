"""The shared schedule of prediction creates (see ``marketplace.pacing``): one item whose
``nextMs`` is the first free slot (a GCRA: the schedule never lies further in the past than the
burst allows). A reservation is a conditional SET when the schedule is idle (behind
``now - burst``): one write; else that refused write and one atomic ADD."""

from __future__ import annotations

from .. import keys
from .table import Table, conditional, values


class PacerRows:
    table: Table

    def reserve_create_slots(self, count: int, interval_ms: int, burst_ms: int, now_ms: int) -> int:
        """Reserves ``count`` consecutive slots; returns the first one's time (epoch ms, possibly
        in the past by at most ``burst_ms``: due now)."""
        span = count * interval_ms
        earliest = now_ms - burst_ms
        with conditional() as idle:
            self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.pacer_key(),
                UpdateExpression="SET nextMs = :next",
                ConditionExpression="attribute_not_exists(nextMs) OR nextMs < :earliest",
                ExpressionAttributeValues=values(next=earliest + span, earliest=earliest),
            )
        if idle.held:
            return earliest
        # Busy: take the next slots. The schedule stood at or after `earliest` a moment ago, and
        # only moves forward, so the first slot is never earlier than the burst allows.
        answer = self.table.client.update_item(
            TableName=self.table.name,
            Key=keys.pacer_key(),
            UpdateExpression="ADD nextMs :span",
            ExpressionAttributeValues=values(span=span),
            ReturnValues="UPDATED_NEW",
        )
        return int(answer["Attributes"]["nextMs"]["N"]) - span

    def hold_creates_until(self, until_ms: int) -> None:
        """Replicate said 429: no slot before ``until_ms`` (Retry-After), for every cell (the
        schedule moves forward only)."""
        with conditional():
            self.table.client.update_item(
                TableName=self.table.name,
                Key=keys.pacer_key(),
                UpdateExpression="SET nextMs = :until",
                ConditionExpression="attribute_not_exists(nextMs) OR nextMs < :until",
                ExpressionAttributeValues=values(until=until_ms),
            )
