"""Helpers for the workflow units: recording fakes (Step Functions, WebSocket management),
batch builders, PNG makers. The fixtures live in conftest.py."""

from __future__ import annotations

import base64
import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from marketplace import notifier, predictions, repository
from marketplace.config import get_settings

TABLE = "marketplace-test"
BUCKET = "marketplace-test-assets"
OWNER = "dealer-1"
SECRET = "whsec_" + base64.b64encode(b"current-secret-0123456789abcdef").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"previous-secret-0123456789abcde").decode()
TOKEN = "r8_unit_test_token_do_not_log"
WEBHOOK_URL = "https://hooks.example.test/webhooks/replicate"

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "TABLE_NAME": TABLE,
    "BUCKET_NAME": BUCKET,
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:batch",
    "WEBHOOK_URL": WEBHOOK_URL,
    "WEBSOCKET_MANAGEMENT_URL": "https://ws.example.test/prod",
    "WEBHOOK_SECRETS": f"{SECRET},{OLD_SECRET}",
    "REPLICATE_API_TOKEN": TOKEN,
    "REPLICATE_BASE_URL": "https://api.replicate.test",
    "REPLICATE_OUTPUT_HOSTS": "127.0.0.1",
    "POWERTOOLS_SERVICE_NAME": "car-marketplace",
    "POWERTOOLS_METRICS_NAMESPACE": "CarMarketplaceTest",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "DEBUG",
}


def reset_caches() -> None:
    """Settings, repository, notifier and Replicate clients are rebuilt per test. The boto3
    clients are kept (building one costs ~0.15 s; moto intercepts them whenever a mock is on)."""
    get_settings.cache_clear()
    repository.reset_repository()
    notifier.reset_notifier()
    predictions.reset_clients()


# ----- recording fakes ---------------------------------------------------------------------


@dataclass
class FakeManagementClient:
    """Stands in for apigatewaymanagementapi: records every post; ``gone`` ids answer 410."""

    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.gone:
            raise ClientError({"Error": {"Code": "GoneException", "Message": "gone"}}, "PostToConnection")
        self.posts.append((ConnectionId, json.loads(Data)))
        return {}

    def messages(self, message_type: str | None = None) -> list[dict[str, Any]]:
        return [m for _, m in self.posts if message_type is None or m["type"] == message_type]


@dataclass
class FakeSfn:
    """Records SendTask* calls. ``closed`` tokens answer TaskTimedOut like AWS does."""

    successes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)
    fail_next: int = 0

    def _check(self, token: str, operation: str) -> None:
        if self.fail_next:
            self.fail_next -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, operation)
        if token in self.closed:
            raise ClientError({"Error": {"Code": "TaskTimedOut", "Message": "closed"}}, operation)

    def send_task_success(self, taskToken: str, output: str) -> dict[str, Any]:
        self._check(taskToken, "SendTaskSuccess")
        self.successes.append((taskToken, json.loads(output)))
        self.closed.add(taskToken)
        return {}

    def send_task_failure(self, taskToken: str, error: str, cause: str) -> dict[str, Any]:
        self._check(taskToken, "SendTaskFailure")
        self.failures.append((taskToken, error, cause))
        self.closed.add(taskToken)
        return {}

    def send_task_heartbeat(self, taskToken: str) -> dict[str, Any]:
        self._check(taskToken, "SendTaskHeartbeat")
        self.heartbeats.append(taskToken)
        return {}


# ----- AWS ---------------------------------------------------------------------------------


@dataclass
class World:
    dynamodb: Any
    s3: Any
    repo: repository.Repository
    ws: FakeManagementClient
    sfn: FakeSfn

    def connect(self, owner: str = OWNER, connection_id: str = "conn-1") -> str:
        self.repo.put_connection(connection_id, owner)
        return connection_id

    def cell(self, batch_id: str, angle_key: str, color_key: str | None = None) -> dict[str, Any]:
        found = self.repo.get_cell(batch_id, angle_key, color_key)
        assert found is not None
        return found

    def batch(self, batch_id: str) -> dict[str, Any]:
        found = self.repo.get_batch(batch_id)
        assert found is not None
        return found

    def assets(self, owner: str = OWNER) -> list[dict[str, Any]]:
        items, _ = self.repo.list_gallery(owner, 100, None)
        return items

    def keys(self, prefix: str = "batches/") -> list[str]:
        answer = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(o["Key"] for o in answer.get("Contents", []))

    def job_updates(self) -> list[dict[str, Any]]:
        return [m["data"]["result"] for m in self.ws.messages("marketplaceJobUpdated")]


# ----- batches -----------------------------------------------------------------------------


def make_batch(
    repo: repository.Repository,
    batch_id: str = "b-1",
    angles: tuple[str, ...] = ("front_0",),
    colors: tuple[str, ...] = ("red_metallic",),
    sources: tuple[str, ...] = ("https://src.example.test/a.jpg", "https://src.example.test/b.jpg"),
    owner: str = OWNER,
) -> dict[str, Any]:
    now = repository.now_iso()
    cells = []
    for angle in angles:
        cells.append(_cell(batch_id, "angle", angle, None, f"Studio photo of the car from the {angle} angle.", now))
        for color in colors:
            cells.append(_cell(batch_id, "color", angle, color, f"Repaint the car body in {color} paint.", now))
    batch = {
        "batchId": batch_id,
        "owner": owner,
        "status": "running",
        "sourceImageUrls": list(sources),
        "angles": list(angles),
        "colors": list(colors),
        "autoColorize": True,
        "totalJobs": len(cells),
        "completedJobs": 0,
        "failedJobs": 0,
        "createdAt": now,
        "updatedAt": now,
    }
    repo.create_batch(batch, cells)
    return batch


def _cell(batch_id: str, kind: str, angle: str, color: str | None, prompt: str, now: str) -> dict[str, Any]:
    return {
        "batchId": batch_id,
        "type": kind,
        "angleKey": angle,
        "colorKey": color,
        "status": "queued",
        "prompt": prompt,
        "createdAt": now,
        "updatedAt": now,
    }


def start(repo: repository.Repository, batch_id: str, angle: str, color: str | None, pid: str, token: str) -> dict[str, Any]:
    """As RunPrediction would: record the prediction and task token on the cell."""
    cell = repo.get_cell(batch_id, angle, color)
    assert cell is not None
    repo.record_prediction(cell, OWNER, pid, token, ["https://src.example.test/a.jpg"])
    pointer = repo.get_prediction_pointer(pid)
    assert pointer is not None
    return pointer


# ----- images ------------------------------------------------------------------------------


def png_bytes(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return buffer.getvalue()


def data_uri(data: bytes, media_type: str = "image/png") -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def succeeded(pid: str, output: Any) -> dict[str, Any]:
    return {"id": pid, "status": "succeeded", "output": output, "error": None}


def env_value(name: str) -> str:
    return os.environ[name]
