"""A dependency failing for a while inside the webhook handler (S3 PutObject, then DynamoDB's
completing transaction) must answer non-2xx so Replicate retries, and the retry must land the
image: nothing lost, nothing doubled. The whole product runs in-process (LocalStack), with the
reconciler off so only Replicate's retries (the stand-in's, same webhook-id) can recover."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local_stack.stack import LocalStack
from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.inprocess_stack import stack_in_process
from tests.support.stack_state import MotoState

pytestmark = [pytest.mark.integration, pytest.mark.chaos]


class Flaky:
    """Wraps one boto3 client method: the first `failures` calls that `matches` raise `code`."""

    def __init__(self, real: Any, failures: int, code: str, operation: str, matches: Any) -> None:
        self.real, self.left, self.code, self.operation, self.matches = real, failures, code, operation, matches
        self.raised = 0
        self.passed = 0
        self._lock = threading.Lock()

    def __call__(self, **kwargs: Any) -> Any:
        if self.matches(kwargs):
            with self._lock:
                fail = self.left > 0
                if fail:
                    self.left -= 1
                    self.raised += 1
                else:
                    self.passed += 1
            if fail:
                raise ClientError({"Error": {"Code": self.code, "Message": "injected by the test"},
                                   "ResponseMetadata": {"HTTPStatusCode": 503}}, self.operation)
        return self.real(**kwargs)


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    with stack_in_process({"STANDIN_LATENCY_SECONDS": "0.2"}, schedule_seconds=0) as local:
        yield local


@pytest.mark.timeout(120)
def test_given_s3_then_dynamodb_failing_for_a_while_when_webhooks_arrive_then_replicate_retries_and_no_image_is_lost(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from marketplace import aws

    s3, dynamodb = aws.s3_client(), aws.dynamodb_client()  # the clients every handler in this process uses
    s3_fault = Flaky(s3.put_object, failures=3, code="ServiceUnavailable", operation="PutObject",
                     matches=lambda kw: str(kw.get("Key", "")).startswith("batches/"))

    def completing(kw: dict[str, Any]) -> bool:  # the transaction that completes a cell puts its gallery asset
        return any(str(item.get("Put", {}).get("Item", {}).get("SK", {}).get("S", "")).startswith("ASSET#")
                   for item in kw.get("TransactItems", []))

    dynamodb_fault = Flaky(dynamodb.transact_write_items, failures=2, code="InternalServerError",
                           operation="TransactWriteItems", matches=completing)
    monkeypatch.setattr(s3, "put_object", s3_fault)
    monkeypatch.setattr(dynamodb, "transact_write_items", dynamodb_fault)

    client = E2EClient(stack.base_url, user="dealer-deps")
    try:
        sources = client.upload([jpeg_bytes(11)])
        batch_id = client.create_batch(sources, ["front_0"], ["red_metallic"])["batchId"]
        snapshot = client.wait_completed(batch_id, timeout=90)
    finally:
        client.close()

    assert s3_fault.raised == 3 and dynamodb_fault.raised == 2, "both dependencies really failed for a while"
    assert [(c["angleKey"], c["colorKey"], c["status"]) for c in snapshot["cells"]] == [
        ("front_0", None, "completed"), ("front_0", "red_metallic", "completed")]
    assert snapshot["completedJobs"] == 2 and snapshot["failedJobs"] == 0
    moto = MotoState(stack.moto_url)
    stored = moto.object_keys(f"batches/{batch_id}/")
    for cell in moto.cells(batch_id):
        assert {cell["imageKey"], cell["thumbKey"]} <= stored
    assert len(moto.gallery_assets("dealer-deps", batch_id)) == 2, "one gallery asset per image, not one per attempt"

    completed = [d for d in stack.standin.list_webhook_deliveries() if d["event"] == "completed"]
    rejected = [d for d in completed if not d["delivered"]]
    assert rejected and all(d["status_code"] >= 500 for d in rejected), "the handler asked Replicate to retry"
    for failed_attempt in rejected:
        retries = [d for d in completed if d["webhook_id"] == failed_attempt["webhook_id"]]
        assert retries[-1]["delivered"], "the same delivery (same webhook-id) succeeded on a retry"
    assert len({d["webhook_id"] for d in completed}) == 2
