"""How big a run's data gets in Step Functions, whose limit is 256 KiB per input, output and state
(``STEP_FUNCTIONS_PAYLOAD_MAX_BYTES``, the local stack's).

Pure: the benchmark prints these figures and a test holds the largest batch the API allows under
the limit (the run carries keys only, each list once; no URLs). Not shipped in the layer: only the
benchmark and the test measure."""

from __future__ import annotations

import json
from typing import Any

from marketplace.models import MAX_KEYS_PER_REQUEST, MAX_PRESET_KEY_LENGTH
from marketplace.workflow import execution_input

BATCH_ID = "0" * 32  # uuid4().hex
COLORIZE_RUN_ID = f"{BATCH_ID}-colorize-{'0' * 12}"


def _size(document: Any) -> int:
    return len(json.dumps(document, separators=(",", ":")).encode("utf-8"))


def _keys(count: int, length: int, prefix: str) -> list[str]:
    return [f"{prefix}{index:0{length - len(prefix)}d}" for index in range(count)]


LONGEST_OWNER = "o" * 128  # identity's longest user id


def run_sizes(angles: int, colors: int, key_length: int = 12) -> dict[str, int]:
    """Bytes of the run's input and of one child's input (the distributed Map's item), for a
    batch of angles x colours with keys of key_length characters."""
    angle_keys, color_keys = _keys(angles, key_length, "a"), _keys(colors, key_length, "c")
    run = execution_input(BATCH_ID, COLORIZE_RUN_ID, angle_keys, color_keys, owner=LONGEST_OWNER, run_angle=True,
                          run_colors=True)
    child = {"batchId": BATCH_ID, "runId": COLORIZE_RUN_ID, "owner": LONGEST_OWNER, "angleKey": angle_keys[0],
             "colors": color_keys, "runAngle": True, "runColors": True, "angleResult": {"slotMs": None},
             "workflowError": {}}
    return {"execution input": _size({**run, "workflowError": {}}), "child input": _size(child)}


def largest_allowed() -> dict[str, int]:
    return run_sizes(MAX_KEYS_PER_REQUEST, MAX_KEYS_PER_REQUEST, MAX_PRESET_KEY_LENGTH)
