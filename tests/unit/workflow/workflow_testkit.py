"""Helpers for the workflow units: recording fakes (Step Functions, WebSocket management),
batch builders, PNG makers. The fixtures live in conftest.py."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError
from PIL import Image

from marketplace import cells, keys, repository
from marketplace.domain import Batch, Cell
from marketplace.statuses import CellType, Outcome
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


@dataclass
class FakeClock:
    """The create schedule's clock (``marketplace.create_slots``): epoch ms that move only when a
    test advances them or the code sleeps (recorded)."""

    now_ms: int = 1_800_000_000_000
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now_ms += round(seconds * 1000)

    def time(self) -> float:
        return self.now_ms / 1000


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

    @contextmanager
    def dynamodb_calls(self) -> Iterator[list[tuple[str, dict[str, Any]]]]:
        """Records the DynamoDB operations made inside the block: (operation name, parameters)."""
        calls: list[tuple[str, dict[str, Any]]] = []

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            calls.append((model.name, params))

        events = self.repo.table.client.meta.events
        events.register("before-parameter-build.dynamodb", record, unique_id="workflow-testkit-calls")
        try:
            yield calls
        finally:
            events.unregister("before-parameter-build.dynamodb", unique_id="workflow-testkit-calls")

    def pacer(self) -> dict[str, Any] | None:
        """The shared schedule of prediction creates (None: no slot was ever taken)."""
        return self.repo.table.get(keys.pacer_key())

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
    legacy_cells: bool = False,
) -> Batch:
    """As batches.create_batch writes it: cells carry their owner, angle cells their sources.
    ``legacy_cells``: cells as written before they carried them (the batch row knows)."""
    now = repository.now_iso()
    cell_owner = None if legacy_cells else owner
    cell_sources = None if legacy_cells else list(sources)
    rows = []
    for angle in angles:
        rows.append(_cell(batch_id, CellType.ANGLE, angle, None, f"Studio photo of the car from the {angle} angle.", now,
                           cell_owner, cell_sources))
        for color in colors:
            rows.append(_cell(batch_id, CellType.COLOR, angle, color, f"Repaint the car body in {color} paint.", now,
                               cell_owner, None))
    batch = Batch(batchId=batch_id, owner=owner, sourceImageUrls=list(sources), angles=list(angles), colors=list(colors),
                  totalJobs=len(rows), createdAt=now, updatedAt=now)
    repo.create_batch(batch, rows)
    return batch


def _cell(batch_id: str, kind: CellType, angle: str, color: str | None, prompt: str, now: str, owner: str | None,
          sources: list[str] | None) -> Cell:
    return Cell(batchId=batch_id, type=kind, angleKey=angle, colorKey=color, prompt=prompt, owner=owner,
                sourceImageUrls=sources, createdAt=now, updatedAt=now)


def start(repo: repository.Repository, batch_id: str, angle: str, color: str | None, pid: str, token: str,
          color_count: int = 0) -> Cell:
    """As RunPrediction would: record the prediction and task token on the cell (now processing).
    Returns the recorded cell."""
    cell = repo.get_cell(batch_id, angle, color)
    assert cell is not None
    return repo.record_prediction(cell, pid, token, ["https://src.example.test/a.jpg"], color_count)


def deliver(repo: repository.Repository, prediction: Mapping[str, Any], cell: Cell) -> Outcome:
    """As the webhook (or the reconciler) does: read the cell now, then the one cell path. A
    test that holds an older copy of the cell gets today's state handled, like a real caller."""
    current = repo.get_cell(cell.batchId, cell.angleKey, cell.colorKey)
    assert current is not None
    return cells.handle_prediction_update(prediction, current)


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
