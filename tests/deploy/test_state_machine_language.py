"""statemachines/*.asl.json through AWS's Step Functions language service (what the AWS Toolkit runs)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.prepare import DEPLOY, ROOT, ensure_asl_service

pytestmark = pytest.mark.deploy
VALIDATOR = DEPLOY / "validate_asl.mjs"


def _validate(folder: Path) -> subprocess.CompletedProcess[str]:
    ensure_asl_service()
    node = shutil.which("node")
    assert node, "node not found: the Step Functions check needs Node.js 18+ on PATH"
    return subprocess.run([node, str(VALIDATOR), str(folder)], capture_output=True, text=True, check=False, timeout=120)


def test_given_the_state_machines_when_the_language_service_validates_them_then_no_error_is_reported():
    result = _validate(ROOT / "statemachines")
    print(result.stdout)
    assert result.returncode == 0, f"ASL language service:\n{result.stdout}{result.stderr}"
    for definition in (ROOT / "statemachines").glob("*.asl.json"):
        assert f"{definition.name}: " in result.stdout  # each file was read


def test_given_a_tolerated_failure_percentage_written_100_0_when_validated_then_the_service_reports_an_error(tmp_path: Path):
    definition = {"StartAt": "Angles", "States": {"Angles": {
        "Type": "Map", "ItemsPath": "$.items", "ToleratedFailurePercentage": 100.0, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}},
    }}}
    (tmp_path / "broken.asl.json").write_text(json.dumps(definition, indent=2))

    result = _validate(tmp_path)

    assert result.returncode == 1 and "error: Incorrect type. Expected one of integer" in result.stdout, result.stdout
