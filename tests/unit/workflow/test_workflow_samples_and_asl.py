"""The sample events in events/ have the shapes the handlers accept, and the ASL keeps its
contract (names, payloads, retries) — checked statically; moto executes it in integration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from marketplace.webhooks import verify_webhook
from tests.support.lambdas import load_function

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "events"
SAMPLE_SECRET = "whsec_c2FtcGxlLXNlY3JldC1mb3ItZXZlbnRzLW9ubHktMDA="


def event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def asl() -> dict[str, Any]:
    return json.loads((ROOT / "statemachines" / "batch.asl.json").read_text())


def test_given_the_sample_webhook_event_when_verified_at_its_time_then_its_signature_is_valid() -> None:
    sample = event("replicate_webhook.json")
    verify_webhook(sample["headers"], sample["body"].encode(), [SAMPLE_SECRET], now=int(sample["headers"]["webhook-timestamp"]))
    assert sample["version"] == "2.0" and sample["requestContext"]["http"]["method"] == "POST"


@pytest.mark.parametrize(
    ("function", "model", "sample"),
    [
        ("run_prediction", "RunPredictionEvent", "run_prediction.json"),
        ("run_prediction", "RunPredictionEvent", "run_prediction_color.json"),
        ("record_failure", "RecordFailureEvent", "record_failure.json"),
        ("finalize_batch", "FinalizeBatchEvent", "finalize_batch.json"),
    ],
)
def test_given_a_sample_event_when_parsed_by_its_handlers_model_then_it_is_accepted(
    function: str, model: str, sample: str
) -> None:
    getattr(load_function(function), model).model_validate(event(sample))


def test_given_the_definition_when_read_then_the_angle_map_is_distributed_standard_uncapped_and_tolerant() -> None:
    process = asl()["States"]["ProcessAngles"]
    assert process["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    assert "MaxConcurrency" not in process
    # An integer: AWS's schema refuses 100.0 (the local stack's moto is taught to accept it).
    assert process["ToleratedFailurePercentage"] == 100 and isinstance(process["ToleratedFailurePercentage"], int)
    assert process["ItemsPath"] == "$.angles" and process["ResultPath"] is None
    assert asl()["States"]["FinalizeBatch"]["Parameters"]["Payload"] == {
        "batchId.$": "$.batchId", "runId.$": "$.runId", "executionName.$": "$$.Execution.Name",
        "workflowError.$": "$.workflowError",
    }


def test_given_the_angle_map_when_it_fails_then_its_catch_still_finalizes_the_run() -> None:
    states = asl()["States"]
    assert states["ProcessAngles"]["Catch"] == [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.workflowError", "Next": "FinalizeBatch"}
    ]
    assert states[asl()["StartAt"]]["ResultPath"] == "$.workflowError"  # present on the normal path too
    finalize_retry = states["FinalizeBatch"]["Retry"]
    assert finalize_retry[-1]["ErrorEquals"] == ["States.ALL"] and finalize_retry[-1]["MaxAttempts"] >= 6


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [*node, *(s for value in node.values() for s in _strings(value))]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def test_given_the_definition_when_its_data_paths_are_read_then_no_url_travels_through_the_state() -> None:
    # URLs in the state would be signed long before Replicate fetches them (and would bloat every
    # item): RunPrediction signs what it hands over. The run carries keys only.
    assert [s for s in _strings(asl()) if "Url" in s] == []


def test_given_the_callback_tasks_when_read_then_they_retry_replicate_outages_with_full_jitter_and_catch_all() -> None:
    states = asl()["States"]["ProcessAngles"]["ItemProcessor"]["States"]
    run_color = states["ProcessColors"]["ItemProcessor"]["States"]["RunColor"]
    for task in (states["RunAngle"], run_color):
        assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
        assert task["Parameters"]["FunctionName"] == "${RunPredictionFunctionArn}"
        assert task["Parameters"]["Payload"]["taskToken.$"] == "$$.Task.Token"
        # No heartbeat: it would time a live cell out whenever the reconciler cannot reach it in
        # time (it polls a bounded number of quiet cells a minute); the timeout bounds the task.
        assert "HeartbeatSeconds" not in task and task["TimeoutSeconds"] == 3600
        replicate = task["Retry"][0]
        # Only an outage is retried by the state machine; a 429 is a wait (the loop below).
        assert replicate["ErrorEquals"] == ["ReplicateUnavailable"]
        assert (replicate["IntervalSeconds"], replicate["BackoffRate"], replicate["MaxAttempts"]) == (2, 2, 6)
        assert (replicate["MaxDelaySeconds"], replicate["JitterStrategy"]) == (60, "FULL")
        # Lambda's own transient errors too: a retry is safe (no second prediction for a live cell).
        assert {"Lambda.ServiceException", "Lambda.Unknown", "Sandbox.Timedout"} <= set(task["Retry"][1]["ErrorEquals"])
        assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": task["Catch"][0]["Next"]}]
    assert states["RunAngle"]["Parameters"]["Payload"]["colorKey"] is None
    assert run_color["Parameters"]["Payload"]["runId.$"] == "$.runId"
    selector = states["ProcessColors"]["ItemSelector"]
    assert selector["colorKey.$"] == "$$.Map.Item.Value"


def _state_maps(states: dict[str, Any]) -> list[dict[str, Any]]:
    """Every States map of the definition: the top level and each Map's item processor."""
    found = [states]
    for state in states.values():
        if "ItemProcessor" in state:
            found.extend(_state_maps(state["ItemProcessor"]["States"]))
    return found


def _callback_tasks() -> list[tuple[dict[str, Any], str, dict[str, Any]]]:
    """(its States map, name, state) of every waitForTaskToken task."""
    return [
        (states, name, state)
        for states in _state_maps(asl()["States"])
        for name, state in states.items()
        if state.get("Resource", "").endswith(".waitForTaskToken")
    ]


def test_given_every_callback_task_when_read_then_a_wait_loop_calls_it_again_with_the_slot_it_was_given() -> None:
    tasks = _callback_tasks()
    assert sorted(name for _, name, _ in tasks) == ["RunAngle", "RunColor"]
    for states, name, task in tasks:
        result = task["ResultPath"]
        assert result not in (None, "$"), f"{name}: its answer must be kept next to its input"
        choice = states[task["Next"]]
        assert choice["Type"] == "Choice"
        (rule,) = choice["Choices"]
        assert rule == {"Variable": f"{result}.waitSeconds", "IsPresent": True, "Next": rule["Next"]}
        wait = states[rule["Next"]]
        assert wait == {"Type": "Wait", "SecondsPath": f"{result}.waitSeconds", "Next": name}
        assert choice["Default"] != name and states[choice["Default"]]["Type"] in ("Choice", "Pass")
        # The next call gets the slot it waited for (null the first time: a new slot).
        assert task["Parameters"]["Payload"]["slotMs.$"] == f"{result}.slotMs"


def test_given_the_maps_when_their_items_start_then_the_slot_and_the_angles_answer_paths_exist_before_any_call() -> None:
    # A JSONPath to a missing field fails the task (States.Runtime): the first call's slotMs, and a
    # colour map's angle answer when this run did not make the angle, are seeded with null.
    process_angles = asl()["States"]["ProcessAngles"]
    angle_states = process_angles["ItemProcessor"]["States"]
    assert process_angles["ItemSelector"]["angleResult"] == {"slotMs": None}
    colors = angle_states["ProcessColors"]
    assert colors["ItemSelector"]["run"] == {"slotMs": None}
    assert colors["ItemSelector"]["angle.$"] == "$.angleResult"
    assert colors["ItemSelector"]["colorIndex.$"] == "$$.Map.Item.Index"
    run_angle = angle_states["RunAngle"]["Parameters"]["Payload"]
    assert run_angle["colorCount.$"] == "States.ArrayLength($.colors)" and run_angle["runColors.$"] == "$.runColors"
    run_color = colors["ItemProcessor"]["States"]["RunColor"]["Parameters"]["Payload"]
    assert (run_color["angle.$"], run_color["colorIndex.$"]) == ("$.angle", "$.colorIndex")
    # The colour map starts only once the angle's loop is done with its waits.
    assert angle_states["AngleWaiting"]["Default"] == "ShouldRunColors"


def test_given_the_definition_when_every_retry_is_read_then_a_rate_limit_is_never_retried_as_an_error() -> None:
    retries = [
        retry for states in _state_maps(asl()["States"]) for state in states.values() for retry in state.get("Retry", [])
    ]
    assert retries
    assert not [r for r in retries if "ReplicateRateLimited" in r["ErrorEquals"]]


def test_given_the_definition_when_searched_then_it_is_jsonpath_only() -> None:
    text = (ROOT / "statemachines" / "batch.asl.json").read_text()
    assert '"QueryLanguage"' not in text and "{%" not in text
