"""template.yaml: cfn-lint clean, SAM-translatable, least privilege, no secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.aws_resources import TEMPLATE_PATH as TEMPLATE
from tests.support.aws_resources import load_template

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_given_the_template_when_cfn_lint_runs_then_it_reports_no_errors():
    from cfnlint.api import lint_all

    matches = lint_all(TEMPLATE.read_text())
    errors = [m for m in matches if m.rule.id.startswith("E")]
    assert errors == [], "\n".join(str(m) for m in errors)


def _translated() -> dict[str, Any]:
    import boto3
    from samtranslator.public.translator import ManagedPolicyLoader
    from samtranslator.translator.transform import transform

    class _Policies(ManagedPolicyLoader):
        def __init__(self) -> None:
            super().__init__(boto3.client("iam", region_name="us-east-1"))

        def load(self) -> dict[str, str]:
            return {"AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
                    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess"}

    # As `sam package` does: local folders become S3 artifacts (each must exist first).
    template = json.loads(json.dumps(load_template()))
    for res in template["Resources"].values():
        for prop in ("CodeUri", "ContentUri", "DefinitionUri"):
            local = res.get("Properties", {}).get(prop)
            if isinstance(local, str) and not local.startswith("s3://"):
                assert (ROOT / local).exists(), local
                res["Properties"][prop] = f"s3://artifacts/{local.strip('/')}"
    return transform(template, {}, _Policies())


def test_given_the_template_when_the_sam_translator_transforms_it_then_every_function_and_route_exists():
    out = _translated()
    types = {r["Type"] for r in out["Resources"].values()}
    assert {"AWS::Lambda::Function", "AWS::StepFunctions::StateMachine", "AWS::ApiGatewayV2::Api",
            "AWS::Lambda::LayerVersion", "AWS::DynamoDB::Table", "AWS::S3::Bucket"} <= types
    functions = [k for k, r in out["Resources"].items() if r["Type"] == "AWS::Lambda::Function"]
    assert len(functions) == 7


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
    out = _translated()
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
    machine = load_template()["Resources"]["BatchStateMachine"]["Properties"]
    assert machine["DefinitionUri"] == "statemachines/batch.asl.json"
    definition = (ROOT / machine["DefinitionUri"]).read_text()
    for name in machine["DefinitionSubstitutions"]:
        assert "${" + name + "}" in definition, name


def test_given_every_function_when_listed_then_it_has_a_sample_event():
    functions = [r["Properties"]["CodeUri"].strip("/").split("/")[-1]
                 for r in load_template()["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        assert list((ROOT / "events").glob(f"{name}*.json")), f"events/{name}*.json missing"
