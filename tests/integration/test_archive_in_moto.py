"""ZIP export on the local stack: a real batch, POST archive (the API invokes the builder Lambda
asynchronously through moto's Lambda), marketplaceArchiveReady on the WebSocket, the ZIP
downloaded from its presigned URL holds exactly the completed cells' PNGs, matrix.png and
manifest.json."""

from __future__ import annotations

import io
import json
import zipfile

import httpx
import pytest

from tests.support.e2e_client import BASE, E2EClient, jpeg_bytes
from tests.support.inprocess_stack import stack_in_process

pytestmark = pytest.mark.integration

ANGLES = ["front_0", "side_90"]
COLORS = ["red_metallic", "blue_metallic"]


def test_given_a_finished_batch_when_its_archive_is_built_then_the_owner_is_told_and_the_zip_holds_its_images() -> None:
    with stack_in_process({"STANDIN_LATENCY_SECONDS": "0.2", "POWERTOOLS_LOG_LEVEL": "WARNING"}) as stack:
        client = E2EClient(stack.base_url, user="archivist")
        listener = client.listen()
        try:
            sources = client.upload([jpeg_bytes(3)])
            batch_id = client.create_batch(sources, ANGLES, COLORS)["batchId"]
            snapshot = client.wait_completed(batch_id, timeout=120)
            completed = [c for c in snapshot["cells"] if c["status"] == "completed"]
            assert completed

            posted = client.call("POST", f"{BASE}/batch/{batch_id}/archive")
            assert (posted.status_code, posted.json()) == (202, {"status": "building"})
            ready = listener.wait_for(lambda ms: any(m["type"] == "marketplaceArchiveReady" for m in ms), timeout=60)
            [message] = [m for m in ready if m["type"] == "marketplaceArchiveReady"]
            assert message["data"]["batchId"] == batch_id

            state = client.call("GET", f"{BASE}/batch/{batch_id}/archive").json()
            assert state["status"] == "ready" and state["images"] == len(completed)
            other = E2EClient(stack.base_url, user="someone-else")
            assert other.call("GET", f"{BASE}/batch/{batch_id}/archive").status_code == 404
            other.close()

            data = httpx.get(message["data"]["url"], timeout=30).content
            expected = {httpx.get(c["imageUrl"], timeout=30).content for c in completed}
        finally:
            listener.close()
            client.close()

    assert len(data) == state["bytes"]
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        pngs = [n for n in names if n.endswith(".png") and n != "matrix.png"]
        assert sorted(set(names) - set(pngs)) == ["manifest.json", "matrix.png"]
        assert {archive.read(n) for n in pngs} == expected and len(pngs) == len(completed)
        manifest = json.loads(archive.read("manifest.json"))
        assert archive.read("matrix.png").startswith(b"\x89PNG")
    assert manifest["batchId"] == batch_id and len(manifest["cells"]) == len(snapshot["cells"])
    assert {c["file"] for c in manifest["cells"] if c["file"]} == set(pngs)
    assert "Front (0deg)/Red Metallic.png" in pngs
