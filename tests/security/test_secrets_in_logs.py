"""No secret reaches a log. The secure stack was started with secrets this test knows (the
Replicate API token, the webhook signing secret, the WebSocket ticket secret) and DEBUG handler
logs; after a full batch, a colourise, and the error paths (rejected webhooks, forged tickets,
refused input), neither the stack's captured output (stdout + stderr of the whole process: gateway,
handlers, moto, stand-in) nor this test's own captured logs and output contain any of them.
The secure stack is shared by the fuzz and other security tests, so its log covers those too."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.secrets_scan import leaks as found_leaks
from tests.support.stack_state import Standin

pytestmark = pytest.mark.security
BASE = "/api/car/marketplace"


@pytest.mark.timeout(180)
def test_given_a_full_batch_and_the_error_paths_when_every_log_is_read_then_no_secret_appears(
    secure_stack, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
):
    caplog.set_level(logging.DEBUG)
    secrets = secure_stack["secrets"]
    base_url = str(secure_stack["base_url"])
    assert Standin(str(secure_stack["standin_url"]), secrets["LOCAL_REPLICATE_API_TOKEN"]).webhook_secret() == \
        secrets["LOCAL_WEBHOOK_SECRET"], "the stack really runs with the secrets this test looks for"

    client = E2EClient(base_url, user="dealer-secrets")
    listener = client.listen()
    try:
        sources = client.upload([jpeg_bytes(51), jpeg_bytes(52)])
        batch_id = client.create_batch(sources, ["front_0", "side_90"], ["red_metallic"])["batchId"]
        listener.wait_for(lambda _: len(listener.of_batch(batch_id, "marketplaceBatchCompleted")) == 1, timeout=90)
        answer = client.call("POST", f"{BASE}/batch/{batch_id}/colorize", json={"colors": ["blue_metallic"]})
        assert answer.status_code == 202, answer.text
        listener.wait_for(lambda _: len(listener.of_batch(batch_id, "marketplaceBatchCompleted")) == 2, timeout=90)
        # Error paths: they log warnings and exceptions, where a careless message would leak.
        hook = f"{base_url}/webhooks/replicate?batchId={batch_id}&angleKey=front_0"
        assert httpx.post(hook, content=b'{"id":"x","status":"succeeded"}', timeout=10).status_code == 401
        forged = {"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}
        assert httpx.post(hook, content=b'{"id":"x","status":"succeeded"}', headers=forged, timeout=10).status_code == 401
        with pytest.raises(InvalidStatus), connect(f"{secure_stack['ws_url']}?ticket=forged.ticket", open_timeout=10):
            pass
        refused = client.call("POST", f"{BASE}/batch", json={"sourceImageUrls": ["https://localhost/x.jpg"],
                                                              "angles": ["front_0"]})
        assert refused.status_code == 422
    finally:
        listener.close()
        client.close()
    time.sleep(1)  # let the stack flush its last lines

    log = Path(str(secure_stack["log_path"])).read_text(errors="replace")
    assert "[MP] enqueue" in log, "DEBUG handler logs were on: the log is worth searching"
    own = capfd.readouterr()
    places = {"stack log": log, "test logs": caplog.text, "test stdout": own.out, "test stderr": own.err}
    assert found_leaks(secrets, places) == []
