"""Log keys belong to their invocation, also when invocations share a process (the local stack
runs every handler in threads of one process): each line carries its own invocation's function,
request id and batch id."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from marketplace.observability import bind_batch, lambda_entry, logger
from tests.support.lambda_events import FakeContext

pytestmark = pytest.mark.unit


def test_given_two_invocations_interleaved_when_each_logs_then_each_line_has_its_own_context() -> None:
    first_bound, second_done = threading.Event(), threading.Event()

    @lambda_entry()
    def handler(event: dict[str, Any], context: Any) -> None:
        bind_batch(event["batch"])
        if event["wait"]:
            first_bound.set()
            assert second_done.wait(5)  # the second invocation starts, logs and ends meanwhile
        else:
            assert first_bound.wait(5)
        logger.info("cell done")

    stream = io.StringIO()
    old_stream = logger.registered_handler.setStream(stream)
    try:
        first = threading.Thread(target=handler, args=(
            {"batch": "batch-a", "wait": True},
            FakeContext(function_name="ReplicateWebhookFunction", aws_request_id="request-a")))
        first.start()
        assert first_bound.wait(5)
        handler({"batch": "batch-b", "wait": False},
                FakeContext(function_name="ApiFunction", aws_request_id="request-b"))
        second_done.set()
        first.join(5)
    finally:
        logger.registered_handler.setStream(old_stream)

    lines = [json.loads(line) for line in stream.getvalue().splitlines() if '"cell done"' in line]
    seen = sorted((line["batch_id"], line["function_name"], line["function_request_id"]) for line in lines)
    assert seen == [("batch-a", "ReplicateWebhookFunction", "request-a"), ("batch-b", "ApiFunction", "request-b")]
