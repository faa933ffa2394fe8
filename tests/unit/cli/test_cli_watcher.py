"""BatchWatcher over an in-memory socket: ordering, subscribe, reconnect, resync, timeout."""

from __future__ import annotations

import asyncio
import io
import re
from pathlib import Path

import pytest
from cli_testkit import FakeApi, FakeConnector, job_updated, result, snapshot
from PIL import Image

from marketplace_cli.flows import colorize_batch, create_batch
from marketplace_cli.watch import BatchWatcher, TextReporter, WatchError, cell_name, exit_code

pytestmark = pytest.mark.unit

B = "batch-1"
ALL = [("front_0", None), ("front_0", "red_metallic"), ("side_90", None), ("side_90", "red_metallic")]


def queued_snapshot() -> dict:
    return snapshot(B, [result(a, c, "queued") for a, c in ALL], colors=["red_metallic"])


def done_snapshot(status: str = "completed") -> dict:
    return snapshot(B, [result(a, c, status, imageUrl=f"u/{a}/{c}") for a, c in ALL], colors=["red_metallic"], status="completed")


def follow(api: FakeApi, connector: FakeConnector, **kwargs) -> tuple:
    out = io.StringIO()

    async def run():
        watcher = BatchWatcher(
            api.client(), "ws://ws.fake/ws", connector=connector, reporter=TextReporter(out, tty=False), **kwargs
        )
        async with watcher:
            state = await watcher.follow(B)
        return state, watcher

    state, watcher = asyncio.run(run())
    return state, watcher, out.getvalue()


def test_create_opens_the_socket_before_the_batch_and_catches_every_event(tmp_path: Path) -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot(), done_snapshot()]
    photo = tmp_path / "car.photo"  # no extension: the bytes say JPEG
    Image.new("RGB", (16, 12), (0, 150, 140)).save(photo, "JPEG")
    connector = FakeConnector()
    loop_box: dict = {}

    def capture_loop(socket, index):
        loop_box["loop"] = asyncio.get_running_loop()

    connector.script = capture_loop

    def on_create() -> None:
        # The server pushes these while POST /batch is still being answered.
        assert connector.sockets, "the WebSocket must be open before the batch is created"
        socket, loop = connector.sockets[0], loop_box["loop"]
        messages = [
            {
                "type": "marketplaceBatchCreated",
                "data": {"batchId": B, "totalJobs": 4, "angles": ["front_0", "side_90"], "colors": ["red_metallic"]},
            },
            *[job_updated(B, a, c, "processing") for a, c in ALL],
            *[job_updated(B, a, c, "completed", imageUrl="u") for a, c in ALL],
        ]
        for message in messages:
            loop.call_soon_threadsafe(socket.push, message)

    api.on_create = on_create
    out = io.StringIO()
    outcome = create_batch(
        api.client(),
        [photo],
        ["front_0", "side_90"],
        ["red_metallic"],
        watch=True,
        reporter=TextReporter(out, tty=False),
        connector=connector,
    )

    assert outcome.batch_id == B
    state = outcome.state
    assert state is not None and state.done and exit_code(state) == 0
    assert state.completed_count == 4
    socket = connector.sockets[0]
    assert socket.ticket == "ticket-1"
    assert {"action": "subscribe", "batchId": B} in socket.sent
    assert api.puts[0][2] == photo.read_bytes()  # the bytes, intact
    assert api.puts[0][1]["content-type"] == "image/jpeg"
    text = out.getvalue()
    assert text.count("completed") == 4
    order = [r.url.path.rsplit("/", 1)[-1] for r in api.requests if r.url.host == "api.fake"]
    assert order.index("ws-ticket") < order.index("batch")


def test_rejected_file_stops_before_any_upload(tmp_path: Path) -> None:
    api = FakeApi()
    text = tmp_path / "car.jpg"
    text.write_text("hello")
    from marketplace_cli.files import FileRejected

    with pytest.raises(FileRejected):
        create_batch(api.client(), [text], ["front_0"], [])
    assert not api.puts and not api.created


def test_reconnects_with_a_fresh_ticket_resubscribes_and_rereads_the_snapshot() -> None:
    api = FakeApi()
    # Before the drop nothing is finished; after it, the snapshot shows what happened meanwhile.
    api.snapshots = [
        queued_snapshot(),
        snapshot(
            B,
            [
                result("front_0", None, "completed"),
                result("front_0", "red_metallic", "completed"),
                result("side_90", None, "processing"),
                result("side_90", "red_metallic", "queued"),
            ],
            colors=["red_metallic"],
        ),
    ]

    def script(socket, index):
        if index == 0:
            socket.push(job_updated(B, "front_0", None, "processing"))
            socket.drop(ConnectionResetError("gone"))
        else:
            socket.push(job_updated(B, "side_90", None, "completed"))
            socket.push(job_updated(B, "side_90", "red_metallic", "completed"))

    connector = FakeConnector(script)
    state, watcher, out = follow(api, connector, max_backoff=0.05)

    assert state.done and state.completed_count == 4
    assert watcher.reconnects == 1
    assert [s.ticket for s in connector.sockets] == ["ticket-1", "ticket-2"]
    assert all({"action": "subscribe", "batchId": B} in s.sent for s in connector.sockets)
    snapshot_reads = [r for r in api.requests if r.url.path.endswith(f"/batch/{B}")]
    assert len(snapshot_reads) >= 2
    assert "connection lost" in out and "reconnected" in out
    assert out.count("completed") >= 4


def test_reconnect_retries_failed_connection_attempts() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot(), done_snapshot()]
    connector = FakeConnector()

    def script(socket, index):
        if index == 0:
            connector.failures = 2
            socket.drop()

    connector.script = script
    state, _, _ = follow(api, connector, max_backoff=0.02)
    assert state.done and len(connector.sockets) == 2 and api.tickets == 4


def test_gives_up_when_the_socket_cannot_come_back() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot()]
    connector = FakeConnector()

    def script(socket, index):
        connector.failures = 10_000
        socket.drop()

    connector.script = script
    with pytest.raises(WatchError, match="could not reconnect"):
        follow(api, connector, timeout=0.5, max_backoff=0.05, resync_seconds=10)


def test_a_quiet_socket_falls_back_to_snapshots() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot(), queued_snapshot(), done_snapshot()]
    state, _, _ = follow(api, FakeConnector(), resync_seconds=0.05)
    assert state.done and state.completed_count == 4


def test_timeout_names_the_pending_cells() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot()]
    pending = f"front_0, {cell_name('front_0', 'red_metallic')}"
    with pytest.raises(WatchError, match=re.escape(f"timed out after 0.3s waiting for {pending}")):
        follow(api, FakeConnector(), timeout=0.3, resync_seconds=0.1)


def test_batch_completed_ends_the_watch_after_a_final_snapshot() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot(), done_snapshot("failed")]

    def script(socket, index):
        socket.push(job_updated("someone-else", "front_0", None, "completed"))
        socket.push({"type": "marketplaceBatchCompleted", "data": {"batchId": "someone-else"}})
        socket.push({"type": "marketplaceBatchCompleted", "data": {"batchId": B}})

    state, _, _ = follow(api, FakeConnector(script))
    assert state.done and state.failed_count == 4 and exit_code(state) == 2
    assert ("front_0", None) in state.cells and all(c.status == "failed" for c in state.cells.values())


def test_unknown_batch_is_an_error() -> None:
    api = FakeApi(batch_id="another")

    async def run():
        async with BatchWatcher(api.client(), "ws://ws.fake/ws", connector=FakeConnector()) as watcher:
            await watcher.follow(B)

    with pytest.raises(WatchError, match="404 not_found"):
        asyncio.run(run())


def test_colorize_watch_reports_finished_angles_as_already_done() -> None:
    api = FakeApi()
    api.snapshots = [
        snapshot(
            B,
            [result("front_0", None, "completed"), result("front_0", "black_gloss", "queued")],
            angles=["front_0"],
            colors=["black_gloss"],
        ),
        snapshot(
            B,
            [result("front_0", None, "completed"), result("front_0", "black_gloss", "completed")],
            angles=["front_0"],
            colors=["black_gloss"],
            status="completed",
        ),
    ]
    out = io.StringIO()
    connector = FakeConnector(lambda socket, index: socket.push(job_updated(B, "front_0", "black_gloss", "completed")))
    answer, state = colorize_batch(
        api.client(), B, ["black_gloss"], watch=True, connector=connector, reporter=TextReporter(out, tty=False)
    )
    assert answer["createdJobs"] == 2
    assert state is not None and state.done
    text = out.getvalue()
    assert "front_0 " in text and "already done" in text
    assert cell_name("front_0", "black_gloss") in text


def test_reconnect_gives_up_after_its_window() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot()]
    connector = FakeConnector()

    def script(socket, index):
        connector.failures = 10_000
        socket.drop()

    connector.script = script
    with pytest.raises(WatchError, match="could not reconnect the WebSocket: connection refused"):
        follow(api, connector, timeout=60, reconnect_window=0.3, max_backoff=0.05)


def test_abort_check_stops_the_watch() -> None:
    api = FakeApi()
    api.snapshots = [queued_snapshot()]
    calls = []

    def abort() -> str | None:
        calls.append(1)
        return "the local stack stopped unexpectedly" if len(calls) > 2 else None

    with pytest.raises(WatchError, match="the local stack stopped unexpectedly"):
        follow(api, FakeConnector(), timeout=60, resync_seconds=0.02, abort_check=abort)
