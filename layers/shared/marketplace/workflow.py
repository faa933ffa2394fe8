"""Step Functions: start a batch's execution and resume callback tasks.

AWS raises TaskTimedOut/InvalidToken for a token that was already used (moto silently accepts a
duplicate): both mean "already handled", never an error for the caller.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from .aws import sfn_client
from .config import get_settings
from .observability import logger

_ALREADY_DONE = ("TaskTimedOut", "InvalidToken", "TaskDoesNotExist")


def execution_input(
    batch_id: str, run_id: str, angles: list[str], colors: list[str], *, owner: str, run_angle: bool,
    run_colors: bool,
) -> dict[str, Any]:
    """A run's input: keys only, each list once (Step Functions' 256 KiB limit on the input and on
    every state's data), and the owner (RunPrediction reads the cell and the owner's connections
    in one round trip). No URLs: RunPrediction signs what it hands to Replicate at that moment."""
    return {"batchId": batch_id, "runId": run_id, "owner": owner, "angles": list(angles), "colors": list(colors),
            "runAngle": run_angle, "runColors": run_colors}


def start_execution(run: dict[str, Any], client: Any = None) -> str | None:
    """Starts a run (named after its runId); an execution of that name already existing is success."""
    client = client or sfn_client()
    name = str(run["runId"])
    try:
        answer = client.start_execution(
            stateMachineArn=get_settings().state_machine_arn,
            name=name,
            input=json.dumps(run, separators=(",", ":")),
        )
        return str(answer["executionArn"])
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            logger.info("execution already started", extra={"execution_name": name})
            return None
        raise


def stop_execution(run_id: str, cause: str, client: Any = None) -> bool:
    """Stops a run's execution (a distributed Map's child executions stop with it). False when it
    no longer runs or never existed: stopping is then already done."""
    client = client or sfn_client()
    arn = get_settings().state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{run_id}"
    try:
        client.stop_execution(executionArn=arn, error="Canceled", cause=cause[:32768])
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ExecutionDoesNotExist", "ExecutionNotRunning"):
            return False
        raise


def send_task_success(task_token: str, output: dict[str, Any], client: Any = None) -> bool:
    return _send(lambda c: c.send_task_success(taskToken=task_token, output=json.dumps(output)), client)


def send_task_failure(task_token: str, error: str, cause: str, client: Any = None) -> bool:
    return _send(lambda c: c.send_task_failure(taskToken=task_token, error=error[:256], cause=cause[:32768]), client)


def _send(call: Any, client: Any) -> bool:
    """True when the workflow took the message; False when the task was already closed."""
    try:
        call(client or sfn_client())
        return True
    except ClientError as error:
        if error.response["Error"]["Code"] in _ALREADY_DONE:
            logger.info("task already handled", extra={"error_code": error.response["Error"]["Code"]})
            return False
        raise
