"""template.yaml as CloudFormation receives it from `sam package` + `sam deploy`, offline.

`sam package` turns local CodeUri/ContentUri folders into S3 artifacts: here they become S3 URIs.
The state machine's DefinitionUri is inlined as `Definition` instead (SAM then emits DefinitionString
with our DefinitionSubstitutions, the same deployed machine), so cfn-lint can check the ASL too.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from local_stack.template import load_template
from tests.support.aws_resources import TEMPLATE_PATH

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
TRANSLATED_ARTIFACT = ROOT / "test-artifacts" / "translated-template.json"
# What the translator would ask IAM for: the managed policies SAM attaches (basic execution, X-Ray).
MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
    "AWSXRayDaemonWriteAccess": "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
}


def packaged_template() -> dict[str, Any]:
    """The SAM template with its local artifacts replaced (each must exist, as `sam package` requires)."""
    template = load_template(TEMPLATE_PATH)
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        for prop in ("CodeUri", "ContentUri"):
            local = properties.get(prop)
            if isinstance(local, str) and not local.startswith("s3://"):
                if not (ROOT / local).is_dir():
                    raise FileNotFoundError(f"{logical_id}.{prop}: {local} is not a folder")
                properties[prop] = f"s3://artifacts/{local.strip('/')}"
        definition_uri = properties.get("DefinitionUri")
        if isinstance(definition_uri, str) and not definition_uri.startswith("s3://"):
            properties["Definition"] = json.loads((ROOT / properties.pop("DefinitionUri")).read_text())
    return template


@functools.cache
def _translated_json() -> str:
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    out = translator.translate(packaged_template(), parameter_values={},
                               get_managed_policy_map=lambda: MANAGED_POLICIES)
    # SAM writes the definition as Fn::Join over literal lines; cfn-lint validates the ASL only in a
    # literal string, and CloudFormation would join it to the same string.
    for resource in out["Resources"].values():
        definition = resource.get("Properties", {}).get("DefinitionString")
        join = definition.get("Fn::Join") if isinstance(definition, dict) else None
        if join and all(isinstance(line, str) for line in join[1]):
            resource["Properties"]["DefinitionString"] = join[0].join(join[1])
    return json.dumps(out, indent=2)


def translated() -> dict[str, Any]:
    """The plain CloudFormation template (a fresh copy: callers may change it)."""
    return json.loads(_translated_json())


def write_translated(path: Path = TRANSLATED_ARTIFACT) -> Path:
    """The translated template as a file, for cfn-lint's line numbers and for people to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_translated_json() + "\n")
    return path
