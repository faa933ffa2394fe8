"""Read a running local stack's state from outside: moto (DynamoDB, S3, Step Functions) and the
Replicate stand-in (predictions, webhook secret, fault report). For chaos, security and secrets
tests; nothing here writes.

Names come from local_stack provisioning: the table and bucket are the ones whose physical name
contains the template's logical ids `MarketplaceTable` / `AssetsBucket` (lower-cased for S3).
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
from boto3.dynamodb.types import TypeDeserializer
from botocore.config import Config

_deserializer = TypeDeserializer()


def known_secrets() -> dict[str, str]:
    """Fresh secrets to hand a stack (`LOCAL_*`, see local_stack/environment.py), so a test can
    sign webhooks, call the stand-in, and prove the secrets never reach a log."""
    return {
        "LOCAL_REPLICATE_API_TOKEN": "r8_" + secrets.token_hex(20),
        "LOCAL_WEBHOOK_SECRET": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        "LOCAL_TICKET_SECRET": secrets.token_urlsafe(32),
    }


def plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB wire item as plain Python values."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


@dataclass
class MotoState:
    moto_url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"max_attempts": 3}),
        )

    @cached_property
    def dynamodb(self) -> Any:
        return self.client("dynamodb")

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def sfn(self) -> Any:
        return self.client("stepfunctions")

    @cached_property
    def table(self) -> str:
        names = [n for n in self.dynamodb.list_tables()["TableNames"] if "MarketplaceTable" in n]
        assert len(names) == 1, names
        return names[0]

    @cached_property
    def bucket(self) -> str:
        names = [b["Name"] for b in self.s3.list_buckets()["Buckets"] if "assetsbucket" in b["Name"]]
        assert len(names) == 1, names
        return names[0]

    @cached_property
    def state_machines(self) -> list[str]:
        return [m["stateMachineArn"] for m in self.sfn.list_state_machines()["stateMachines"]]

    def query(self, pk: str, sk_prefix: str | None = None) -> list[dict[str, Any]]:
        values: dict[str, Any] = {":pk": {"S": pk}}
        condition = "PK = :pk"
        if sk_prefix is not None:
            condition += " AND begins_with(SK, :sk)"
            values[":sk"] = {"S": sk_prefix}
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": condition,
                                  "ExpressionAttributeValues": values, "ConsistentRead": True}
        while True:
            page = self.dynamodb.query(**kwargs)
            items.extend(plain(i) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get(self, pk: str, sk: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(TableName=self.table, Key={"PK": {"S": pk}, "SK": {"S": sk}},
                                      ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def batch_rows(self, batch_id: str) -> dict[str, dict[str, Any]]:
        """SK → item for the batch row and its cells."""
        return {item["SK"]: item for item in self.query(f"BATCH#{batch_id}")}

    def batch(self, batch_id: str) -> dict[str, Any]:
        row = self.get(f"BATCH#{batch_id}", "META")
        assert row is not None, batch_id
        return row

    def cells(self, batch_id: str) -> list[dict[str, Any]]:
        return self.query(f"BATCH#{batch_id}", "CELL#")

    def gallery_assets(self, owner: str, batch_id: str | None = None) -> list[dict[str, Any]]:
        assets = self.query(f"OWNER#{owner}", "ASSET#")
        return [a for a in assets if batch_id is None or a.get("batchId") == batch_id]

    def object_exists(self, key: str) -> bool:
        try:
            self.s3.head_object(Bucket=self.bucket, Key=key)
        except self.s3.exceptions.ClientError:
            return False
        return True

    def object_keys(self, prefix: str) -> set[str]:
        keys: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.update(o["Key"] for o in page.get("Contents", []))
        return keys

    def executions(self, status: str | None = None) -> list[dict[str, Any]]:
        """Top-level executions of every state machine, optionally by status."""
        found: list[dict[str, Any]] = []
        for arn in self.state_machines:
            kwargs: dict[str, Any] = {"stateMachineArn": arn}
            if status:
                kwargs["statusFilter"] = status
            for page in self.sfn.get_paginator("list_executions").paginate(**kwargs):
                found.extend(page["executions"])
        return found

    def map_runs(self) -> list[dict[str, Any]]:
        """Every distributed Map run (its status and child execution counts)."""
        runs: list[dict[str, Any]] = []
        for execution in self.executions():
            for run in self.sfn.list_map_runs(executionArn=execution["executionArn"])["mapRuns"]:
                described = self.sfn.describe_map_run(mapRunArn=run["mapRunArn"])
                described.pop("ResponseMetadata", None)
                runs.append(described)
        return runs

    def unfinished(self) -> dict[str, int]:
        """Executions still RUNNING: top level, Map runs, and child executions inside Map runs."""
        runs = self.map_runs()
        return {
            "executions": len(self.executions("RUNNING")),
            "map_runs": sum(1 for r in runs if r["status"] == "RUNNING"),
            "child_executions": sum(r["executionCounts"]["running"] + r["executionCounts"]["pending"] for r in runs),
        }


@dataclass
class Standin:
    """The Replicate stand-in over HTTP, with the token the stack gave it."""

    url: str
    token: str

    def _get(self, path_or_url: str) -> Any:
        url = path_or_url if path_or_url.startswith("http") else f"{self.url}{path_or_url}"
        answer = httpx.get(url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def webhook_secret(self) -> str:
        return str(self._get("/v1/webhooks/default/secret")["key"])

    def predictions(self) -> list[dict[str, Any]]:
        """Every prediction (newest first), following the `next` links."""
        found: list[dict[str, Any]] = []
        page = self._get("/v1/predictions")
        while True:
            found.extend(page["results"])
            if not page.get("next"):
                return found
            page = self._get(page["next"])

    def fault_report(self) -> dict[str, Any]:
        return self._get("/_standin/faults")


def cell_of(prediction: dict[str, Any]) -> tuple[str, str, str | None]:
    """(batchId, angleKey, colorKey) from the webhook URL a prediction was created with."""
    query = parse_qs(urlsplit(prediction.get("webhook") or "").query)
    return (query.get("batchId", [""])[0], query.get("angleKey", [""])[0], (query.get("colorKey") or [None])[0])
