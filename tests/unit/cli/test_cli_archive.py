"""batch archive: POST, wait for ready (polling GET), stream the ZIP to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from marketplace_cli.__main__ import parse_args
from marketplace_cli.archive import default_path, fetch_archive
from marketplace_cli.client import ApiClient, ApiError

pytestmark = pytest.mark.unit
BASE = "/api/car/marketplace"
ZIP = b"PK\x03\x04" + b"z" * 3_000_000


class ArchiveApi:
    def __init__(self, states: list[dict[str, Any]]) -> None:
        self.states = states
        self.calls: list[tuple[str, str]] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        if request.url.host == "s3.fake":
            assert "x-dev-user" not in request.headers  # presigned: never our headers
            return httpx.Response(200, content=ZIP)
        if (request.method, request.url.path) == ("POST", f"{BASE}/batch/b1/archive"):
            return httpx.Response(202, json={"status": "building"})
        if (request.method, request.url.path) == ("GET", f"{BASE}/batch/b1/archive"):
            return httpx.Response(200, json=self.states.pop(0) if len(self.states) > 1 else self.states[0])
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "batch not found", "field": "batchId"}})

    def client(self) -> ApiClient:
        return ApiClient("http://api.fake", user="dealer", transport=httpx.MockTransport(self.handle))


READY = {"status": "ready", "url": "http://s3.fake/bucket/batches/b1/archive/x.zip?X-Amz-Signature=s",
         "bytes": len(ZIP), "images": 5}


def test_given_a_batch_when_archived_then_it_waits_for_ready_and_streams_the_zip_to_the_file(tmp_path: Path):
    api = ArchiveApi([{"status": "building"}, {"status": "building"}, READY])
    target = tmp_path / "deep" / "batch.zip"

    with api.client() as client:
        result = fetch_archive(client, "b1", target, poll=0)

    assert target.read_bytes() == ZIP and (result.bytes, result.images) == (len(ZIP), 5)
    assert api.calls[0] == ("POST", f"{BASE}/batch/b1/archive")
    assert api.calls.count(("GET", f"{BASE}/batch/b1/archive")) == 3
    assert not list(target.parent.glob("*.part"))


def test_given_a_failed_build_when_archived_then_the_reason_is_the_error():
    api = ArchiveApi([{"status": "building"}, {"status": "failed", "error": "no space left"}])
    with api.client() as client, pytest.raises(ApiError, match="no space left"):
        fetch_archive(client, "b1", poll=0)


def test_given_a_build_that_never_finishes_when_archived_then_it_times_out():
    api = ArchiveApi([{"status": "building"}])
    with api.client() as client, pytest.raises(ApiError, match="not ready"):
        fetch_archive(client, "b1", timeout=0, poll=0)


def test_given_a_short_download_when_archived_then_it_is_refused(tmp_path: Path):
    api = ArchiveApi([{**READY, "bytes": len(ZIP) + 1}])
    with api.client() as client, pytest.raises(ApiError, match="bytes"):
        fetch_archive(client, "b1", tmp_path / "a.zip", poll=0)


def test_given_an_unknown_batch_when_archived_then_the_404_names_the_field():
    api = ArchiveApi([READY])
    with api.client() as client, pytest.raises(ApiError) as caught:
        fetch_archive(client, "other", poll=0)
    assert caught.value.status == 404 and caught.value.field == "batchId"


def test_given_the_command_line_when_parsed_then_archive_takes_an_id_and_an_out_file():
    args = parse_args(["batch", "archive", "b1", "--out", "x.zip", "--json"])
    assert (args.batch_command, args.batch_id, args.out, args.json) == ("archive", "b1", Path("x.zip"), True)
    assert default_path("b1") == Path("out/batch-b1.zip")
    assert json.dumps(READY)  # the answer shape the command reads
