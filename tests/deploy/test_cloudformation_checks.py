"""cfn-lint on what CloudFormation receives (the SAM-translated template), and AWS's serverless rules.

cfn-lint 1.x no longer runs the SAM transform (it checks SAM resources against SAM's schemas), so
errors that exist only after the transform (E3004 circular dependencies between generated
resources, the inlined ASL in DefinitionString) show up only on the translated template.
cfn-lint-serverless's rules are written for the SAM template itself: they read SAM functions, APIs
and events directly, "without relying on resources that SAM would generate" (cfn_lint_serverless.sam);
on the translated template they would also flag SAM's own generated resources (e.g. ES6000, no redrive
policy, on the SQS queues SAM creates as a DLQ and an on-failure destination).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.translate import REGION, ROOT, translated, write_translated
from tests.support.aws_resources import TEMPLATE_PATH

pytestmark = [pytest.mark.unit, pytest.mark.deploy]  # offline and quick: part of `make test-fast` too
SERVERLESS_RULES = "cfn_lint_serverless.rules"


@functools.cache
def _translated_path() -> Path:
    return write_translated()


@functools.cache
def _lint(path: Path) -> tuple[Any, ...]:
    from cfnlint.api import ManualArgs, lint_file

    # ConfigMixIn reads append_rules (the CLI's -a) although ManualArgs does not declare it.
    config = ManualArgs(regions=[REGION], append_rules=[SERVERLESS_RULES])  # type: ignore[typeddict-unknown-key]
    return tuple(lint_file(path, config=config))


def _serverless_rule_ids() -> set[str]:
    import cfn_lint_serverless.rules as rules

    return {getattr(rules, name).id for name in rules.__all__}


def _describe(match: Any) -> str:
    path = getattr(match, "path", None) or []
    where = path[1] if len(path) > 1 and path[0] == "Resources" else "/".join(map(str, path))
    return f"{match.rule.id} {where}: {match.message} ({Path(match.filename).relative_to(ROOT)}:{match.linenumber})"


def test_given_the_translated_template_when_written_then_it_is_plain_cloudformation_with_the_asl_inlined():
    out = translated()
    print(f"translated template: {len(out['Resources'])} resources in {_translated_path().relative_to(ROOT)}")
    assert "Transform" not in out
    assert not [k for k, r in out["Resources"].items() if r["Type"].startswith("AWS::Serverless::")]
    machines = [r["Properties"] for r in out["Resources"].values() if r["Type"] == "AWS::StepFunctions::StateMachine"]
    assert machines and all(isinstance(m["DefinitionString"], str) and m["DefinitionSubstitutions"] for m in machines)


def test_given_the_translated_template_when_cfn_lint_runs_then_it_reports_no_errors():
    serverless = _serverless_rule_ids()
    matches = [m for m in _lint(_translated_path()) if m.rule.id not in serverless]
    for match in matches:
        print(_describe(match))
    errors = [_describe(m) for m in matches if m.rule.id.startswith("E")]
    assert errors == [], "cfn-lint errors in the translated template:\n" + "\n".join(errors)


def test_given_the_sam_template_when_the_serverless_rules_run_then_they_report_nothing():
    serverless = _serverless_rule_ids()
    findings = [_describe(m) for m in _lint(TEMPLATE_PATH) if m.rule.id in serverless]
    assert findings == [], "cfn-lint-serverless findings (warnings included):\n" + "\n".join(findings)
