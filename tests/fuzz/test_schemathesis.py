"""Schemathesis against the running stack, driven by the OpenAPI document the API's own event
handler generates (served at /api/openapi.json). Every operation in the document is fuzzed, in
positive mode (data the schema allows) and negative mode (data it forbids), with `X-Dev-User`.

Checks: not_a_server_error (no 5xx, ever), status_code_conformance (every status is documented),
content_type_conformance and response_schema_conformance (every body matches its documented
schema, errors included).

Excluded: nothing from the document. Routes that are not in it, and why:
- POST /webhooks/replicate: another Lambda (Replicate's signed webhook), not part of the API's
  event handler; attacked on its own in tests/security/test_webhook_attacks.py.
- The WebSocket routes and @connections: not HTTP API routes (tests/security/test_isolation.py).
Negative mode is skipped (Hypothesis "Unsatisfiable") for operations with no input at all:
GET /config, GET /presets, POST /ws-ticket, GET /openapi.json.
Note: schemathesis 4.32's lazy pytest loader (`schemathesis.pytest.from_fixture`) fails on pytest 9
(`Function._nodeid`), so the operations' Hypothesis strategies are driven directly.

CI size: FUZZ_MAX_EXAMPLES=25 per operation and mode (default); raise it for a longer run.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.fuzz
ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
NO_INPUT = {"GET /api/car/marketplace/config", "GET /api/car/marketplace/presets", "POST /api/car/marketplace/ws-ticket",
            "GET /api/openapi.json"}
SUMMARY: dict[str, Any] = {}


@pytest.fixture(scope="module")
def api(secure_stack) -> tuple[str, Any]:
    base_url = str(secure_stack["base_url"])
    document = httpx.get(f"{base_url}/api/openapi.json", timeout=30).json()
    # from_dict, not from_url: from_url leaves out the operation that serves the document itself.
    return base_url, schemathesis.openapi.from_dict(document)


def fuzz(base_url: str, schema: Any, mode: GenerationMode) -> dict[str, Any]:
    statuses: Counter[str] = Counter()
    failures: list[str] = []
    skipped: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    started = time.perf_counter()

    def runner(operation: Any) -> Any:
        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            response = case.call(base_url=base_url, headers={"X-Dev-User": "fuzzer"}, timeout=30)
            statuses[f"{operation.label} -> {response.status_code}"] += 1
            try:
                case.validate_response(response, checks=CHECKS)
            except Exception as error:  # collect every failure, do not stop at the first
                failures.append(f"{operation.label} [{mode.value}] {response.status_code}: {str(error)[:400]}\n"
                                f"  request: {case.method} {case.formatted_path} query={case.query} body={str(case.body)[:200]}")

        return run

    for operation in operations:
        try:
            runner(operation)()
        except Unsatisfiable:
            if operation.label not in NO_INPUT:
                raise
            skipped.append(operation.label)
    return {
        "mode": mode.value,
        "operations": [o.label for o in operations],
        "skipped": skipped,
        "cases": sum(statuses.values()),
        "server_errors": sum(n for key, n in statuses.items() if key.rsplit(" ", 1)[1].startswith("5")),
        "statuses": dict(sorted(statuses.items())),
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 1),
    }


def record(result: dict[str, Any]) -> None:
    SUMMARY[result["mode"]] = result
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "fuzz-summary.json").write_text(json.dumps(SUMMARY, indent=2))
    print(f"\n{result['mode']}: {result['cases']} cases over {len(result['operations'])} operations in "
          f"{result['seconds']} s; {result['server_errors']} 5xx; {len(result['failures'])} check failures")


@pytest.mark.timeout(300)
def test_given_the_openapi_document_when_every_operation_gets_schema_valid_data_then_no_5xx_and_every_answer_conforms(api):
    base_url, schema = api
    result = fuzz(base_url, schema, GenerationMode.POSITIVE)
    record(result)
    assert "GET /api/openapi.json" in result["operations"] and len(result["operations"]) >= 10
    assert {"GET /api/car/marketplace/batches", "GET /api/gallery", "POST /api/car/marketplace/batch/{batchId}/retry",
            "POST /api/car/marketplace/batch/{batchId}/cancel", "POST /api/car/marketplace/batch/{batchId}/archive",
            "GET /api/car/marketplace/batch/{batchId}/archive"} <= set(result["operations"])
    assert result["server_errors"] == 0 and result["failures"] == [], "\n".join(result["failures"][:10])


@pytest.mark.timeout(300)
def test_given_the_openapi_document_when_every_operation_gets_invalid_data_then_4xx_never_5xx_and_conforming(api):
    base_url, schema = api
    result = fuzz(base_url, schema, GenerationMode.NEGATIVE)
    record(result)
    assert set(result["skipped"]) <= NO_INPUT
    assert result["server_errors"] == 0 and result["failures"] == [], "\n".join(result["failures"][:10])
    assert httpx.get(f"{base_url}/api/car/marketplace/config", timeout=10).status_code == 200
