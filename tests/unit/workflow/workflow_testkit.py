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

from marketplace import keys, repository
from marketplace.domain import Batch, Cell, PredictionPointer
from marketplace.statuses import CellType
from tests.support import handler_env
from tests.support.aws_resources import BUCKET

OWNER = "dealer-1"
# What the handlers were given (tests.support.handler_env; conftest.py puts it in place).
SECRET, OLD_SECRET = handler_env.WEBHOOK_SECRET, handler_env.OLD_WEBHOOK_SECRET
TOKEN, WEBHOOK_URL = handler_env.REPLICATE_TOKEN, handler_env.WEBHOOK_URL


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

    def row(self, key: dict[str, Any]) -> dict[str, Any]:
        """The stored item as it is in the table (keys and index attributes included)."""
        found = self.repo.table.get(key)
        assert found is not None, key
        return found

    def cell(self, batch_id: str, angle_key: str, color_key: str | None = None) -> dict[str, Any]:
        return self.row(keys.cell_key(batch_id, angle_key, color_key))

    def batch(self, batch_id: str) -> dict[str, Any]:
        return self.row(keys.batch_key(batch_id))

    def pointer(self, prediction_id: str) -> dict[str, Any]:
        return self.row(keys.pointer_key(prediction_id))

    def assets(self, owner: str = OWNER) -> list[dict[str, Any]]:
        items, _ = self.repo.list_gallery(owner, 100, None)
        return [item.attributes() for item in items]

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
) -> Batch:
    now = repository.now_iso()
    cells = []
    for angle in angles:
        cells.append(_cell(batch_id, CellType.ANGLE, angle, None, f"Studio photo of the car from the {angle} angle.", now))
        for color in colors:
            cells.append(_cell(batch_id, CellType.COLOR, angle, color, f"Repaint the car body in {color} paint.", now))
    batch = Batch(batchId=batch_id, owner=owner, sourceImageUrls=list(sources), angles=list(angles), colors=list(colors),
                  totalJobs=len(cells), createdAt=now, updatedAt=now)
    repo.create_batch(batch, cells)
    return batch


def _cell(batch_id: str, kind: CellType, angle: str, color: str | None, prompt: str, now: str) -> Cell:
    return Cell(batchId=batch_id, type=kind, angleKey=angle, colorKey=color, prompt=prompt, createdAt=now, updatedAt=now)


def start(repo: repository.Repository, batch_id: str, angle: str, color: str | None, pid: str, token: str) -> PredictionPointer:
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
