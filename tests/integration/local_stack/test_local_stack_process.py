"""`python -m local_stack` as a process: ready file, one line per request and per cell change,
and a clean stop on SIGINT within a couple of seconds."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
import pytest
import websockets

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).resolve().parent / "fixture"


def test_foreground_process_lifecycle(tmp_path: Path) -> None:
    ready_file = tmp_path / "ready.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")])}
    command = [
        sys.executable, "-m", "local_stack",
        "--port", "0", "--standin-port", "0", "--moto-port", "0",
        "--template", str(FIXTURE / "template.yaml"), "--root", str(FIXTURE),
        "--schedule-seconds", "0", "--no-standin", "--ready-file", str(ready_file),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while not ready_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "not ready in 60 s"
            time.sleep(0.05)
        urls = json.loads(ready_file.read_text())
        assert set(urls) >= {"page", "api", "base_url", "ws_url", "standin_url", "moto_url", "pid"}
        assert httpx.get(f"{urls['base_url']}/ping").text == "pong"

        async def push_a_cell() -> None:
            async with websockets.connect(f"{urls['ws_url']}?ticket=good") as ws:
                await ws.send(json.dumps({"action": "echo"}))
                connection_id = json.loads(await ws.recv())["event"]["requestContext"]["connectionId"]
                management = boto3.client(
                    "apigatewaymanagementapi",
                    endpoint_url=urls["base_url"],
                    region_name="us-east-1",
                    aws_access_key_id="x",
                    aws_secret_access_key="y",
                )
                update = {
                    "type": "marketplaceJobUpdated",
                    "data": {"batchId": "b-1", "result": {"type": "angle", "angleKey": "front", "colorKey": None,
                                                          "status": "completed"}},
                }  # fmt: skip
                for _ in range(2):  # the same change twice (two tabs): printed once
                    await asyncio.to_thread(
                        management.post_to_connection, ConnectionId=connection_id, Data=json.dumps(update).encode()
                    )
                    await ws.recv()

        asyncio.run(push_a_cell())
        started = time.perf_counter()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
        stop_seconds = time.perf_counter() - started
    finally:
        if process.poll() is None:
            process.kill()
    print(f"\nFIGURES process stop after SIGINT {stop_seconds:.2f}s")
    assert process.returncode == 0, output
    assert stop_seconds < 5, output
    lines = output.splitlines()
    assert any(line.startswith("ready in ") and urls["ws_url"] in line for line in lines), output
    assert any(line.startswith("GET /ping 200 ") and line.endswith("ms") for line in lines), output
    cell_lines = [line for line in lines if line.startswith("cell ")]
    assert cell_lines == ["cell  batch=b-1 angle=front colour=- status=completed"], output
    assert not ready_file.exists()


def _start_with_standin(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], dict, Path]:
    ready_file = tmp_path / "ready.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers" / "shared")])}
    command = [
        sys.executable, "-m", "local_stack",
        "--port", "0", "--standin-port", "0", "--moto-port", "0",
        "--template", str(FIXTURE / "template.yaml"), "--root", str(FIXTURE),
        "--schedule-seconds", "0", "--quiet", "--ready-file", str(ready_file), *extra,
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while not ready_file.exists():
        assert process.poll() is None, process.stdout.read() if process.stdout else ""
        assert time.monotonic() < deadline, "not ready in 60 s"
        time.sleep(0.05)
    return process, json.loads(ready_file.read_text()), ready_file


def _gone(pid: int, within_s: float = 5.0) -> bool:
    """The process has exited (absent, or a zombie nobody reaped yet)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_the_standin_and_moto_run_in_their_own_processes_and_stop_with_the_stack(tmp_path: Path) -> None:
    process, urls, ready_file = _start_with_standin(tmp_path)
    try:
        children = {name: pid for name, pid in urls["pids"].items() if name != "stack"}
        assert set(children) == {"standin", "moto"} and urls["pids"]["stack"] == urls["pid"]
        for name, module in (("standin", b"local_stack.standin_process"), ("moto", b"local_stack.moto_process")):
            assert Path(f"/proc/{children[name]}/cmdline").read_bytes().split(b"\0")[2] == module
        assert httpx.get(f"{urls['standin_url']}/health").json() == {"status": "ok"}
        moto_env = Path(f"/proc/{children['moto']}/environ").read_bytes().split(b"\0")
        assert b"MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=16384" in moto_env  # images on disk, not in moto's RSS
        tables = boto3.client(
            "dynamodb", endpoint_url=urls["moto_url"], region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y"
        ).list_tables()["TableNames"]
        assert tables, "provisioned in moto's process"
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert all(_gone(pid) for pid in children.values()), "a child outlived a clean stop"
    assert not ready_file.exists()


def test_given_the_stack_is_killed_then_its_children_die_with_it(tmp_path: Path) -> None:
    process, urls, _ = _start_with_standin(tmp_path)
    children = [pid for name, pid in urls["pids"].items() if name != "stack"]
    assert len(children) == 2
    process.kill()  # SIGKILL: no cleanup code runs in the stack
    process.communicate(timeout=10)
    assert all(_gone(pid) for pid in children), "a child outlived its killed parent"


@pytest.mark.parametrize(("child", "name"), [("standin", "replicate-standin"), ("moto", "moto")])
def test_given_a_child_crashes_then_the_stack_reports_it_and_exits_1(tmp_path: Path, child: str, name: str) -> None:
    process, urls, _ = _start_with_standin(tmp_path)
    try:
        os.kill(urls["pids"][child], signal.SIGKILL)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, output
    assert f"local stack: {name} exited with code -9" in output


def test_given_standin_and_moto_in_process_then_one_process(tmp_path: Path) -> None:
    process, urls, _ = _start_with_standin(tmp_path, "--standin-in-process", "--moto-in-process")
    try:
        assert urls["pids"] == {"stack": urls["pid"]}
        assert httpx.get(f"{urls['standin_url']}/health").status_code == 200
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
