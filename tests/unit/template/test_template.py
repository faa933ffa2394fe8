"""template.yaml: cfn-lint clean, SAM-translatable, least privilege, no secrets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from local_stack.template import load_template
from tests.deploy.translate import translated
from tests.support.aws_resources import TEMPLATE_PATH as TEMPLATE

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


def test_given_the_template_when_cfn_lint_runs_then_it_reports_no_errors():
    from cfnlint.api import lint_all

    matches = lint_all(TEMPLATE.read_text())
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert errors == [], "\n".join(str(m) for m in errors)


def test_given_the_template_when_the_sam_translator_transforms_it_then_every_function_and_route_exists():
    out = translated()
    types = {r["Type"] for r in out["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::ApiGatewayV2::Api",
            "AWS::Lambda::LayerVersion", "AWS::DynamoDB::Table", "AWS::S3::Bucket"} <= types
    functions = [k for k, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 8  # BuildArchiveFunction: the ZIP export


def _statements(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if "Effect" in node and "Action" in node:
            found.append(node)
        for value in node.values():
            found.extend(_statements(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_statements(value))
    return found


def test_given_the_translated_template_when_iam_is_read_then_no_statement_allows_star_actions():
    out = translated()
    for logical_id, res in out["Resources"].items():
        if res["Type"] not in ("AWS::IAM::Role", "AWS::IAM::Policy"):
            continue
        for statement in _statements(res["Properties"]):
            if statement.get("Effect") != "Allow":
                continue
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert "*" not in actions, logical_id
            assert not any(a.endswith(":*") for a in actions if isinstance(a, str)), (logical_id, actions)
            resources = statement.get("Resource", [])
            resources = resources if isinstance(resources, list) else [resources]
            # X-Ray's PutTraceSegments has no resource-level permissions: the only allowed "*".
            if "*" in resources:
                assert all(a.startswith("xray:") for a in actions), (logical_id, actions)


def test_given_the_template_when_scanned_then_dev_mode_and_secrets_are_absent():
    text = TEMPLATE.read_text()
    assert "DEV_MODE" not in text
    assert not re.search(r"r8_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{10,}", text)


def test_given_the_template_when_read_then_the_state_machine_uses_definition_uri_and_substitutions():
    machine = load_template(TEMPLATE)["Resources"]["BatchStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachines/batch.asl.json"
    definition = (ROOT / machine["DefinitionUri"]).read_text()
    for name in machine["DefinitionSubstitutions"]:
        assert "${" + name + "}" in definition, name


def test_given_every_function_when_listed_then_it_has_a_sample_event():
    functions = [r["Properties"]["CodeUri"].strip("/").split("/")[-1]
                 for r in load_template(TEMPLATE)["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        assert list((ROOT / "events").glob(f"{name}*.json")), f"events/{name}*.json missing"
