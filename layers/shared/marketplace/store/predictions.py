"""Prediction pointers (which cell a prediction belongs to) and webhook receipts (deliveries
already handled)."""

from __future__ import annotations

import time

from .. import keys
from ..domain import PredictionPointer
from .table import Table, to_item

WEBHOOK_RECEIPT_TTL_SECONDS = 24 * 3600


class PredictionRows:
    table: Table

    def get_prediction_pointer(self, prediction_id: str) -> PredictionPointer | None:
        item = self.table.get(keys.pointer_key(prediction_id))
        return PredictionPointer.model_validate({"predictionId": prediction_id, **item}) if item else None

    def has_webhook_receipt(self, webhook_id: str) -> bool:
        return self.table.get(keys.receipt_key(webhook_id), consistent=False) is not None

    def put_webhook_receipt(self, webhook_id: str, prediction_id: str) -> None:
        row = {**keys.receipt_ids(webhook_id), "predictionId": prediction_id,
               "ttl": int(time.time()) + WEBHOOK_RECEIPT_TTL_SECONDS}
        self.table.client.put_item(TableName=self.table.name, Item=to_item(row))
