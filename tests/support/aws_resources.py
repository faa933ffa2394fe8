"""Build moto resources from template.yaml, so tests use the table/bucket shapes we deploy.

``load_template()`` reads template.yaml with a YAML loader that tolerates CloudFormation's short
intrinsic tags (``!Ref``, ``!Sub``, ``!GetAtt``, ...): each becomes ``{"Fn::X": value}``
(``{"Ref": value}`` for ``!Ref``), as CloudFormation itself reads them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
ASL_PATH = ROOT / "statemachines" / "batch.asl.json"

_INTRINSICS = (
    "Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
    "FindInMap", "ImportValue", "Base64", "Cidr", "GetAZs", "Condition", "Transform",
)


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader plus the CloudFormation short-form tags."""


def _make_constructor(name: str) -> Any:
    key = "Ref" if name == "Ref" else "Condition" if name == "Condition" else f"Fn::{name}"

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _name in _INTRINSICS:
    _CfnLoader.add_constructor(f"!{_name}", _make_constructor(_name))


@functools.lru_cache(maxsize=1)
def load_template() -> dict[str, Any]:
    with TEMPLATE_PATH.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)


def resource_properties(logical_id: str) -> dict[str, Any]:
    return dict(load_template()["Resources"][logical_id]["Properties"])


def _resolve(value: Any) -> str:
    """A literal, or a ``!Ref`` to a template parameter (its default); anything else is ``*``."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        parameter = load_template().get("Parameters", {}).get(value["Ref"], {})
        if "Default" in parameter:
            return str(parameter["Default"])
    return "*"


def create_table_from_template(
    client: Any, table_name: str = "marketplace-test", logical_id: str = "MarketplaceTable"
) -> str:
    """Creates the DynamoDB table exactly as template.yaml declares it (keys, GSIs, TTL)."""
    props = resource_properties(logical_id)
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    client.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    return table_name


def create_bucket_from_template(
    client: Any, bucket_name: str = "marketplace-test-assets", logical_id: str = "AssetsBucket"
) -> str:
    """Creates the S3 bucket with the template's CORS and lifecycle rules (moto keeps them)."""
    props = resource_properties(logical_id)
    region = client.meta.region_name
    if region and region != "us-east-1":
        client.create_bucket(Bucket=bucket_name, CreateBucketConfiguration={"LocationConstraint": region})
    else:
        client.create_bucket(Bucket=bucket_name)
    cors = props.get("CorsConfiguration", {}).get("CorsRules")
    if cors:
        rules = []
        for rule in cors:
            origins = [_resolve(o) for o in rule.get("AllowedOrigins", [])]
            rules.append(
                {
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedOrigins": origins,
                    "AllowedHeaders": rule.get("AllowedHeaders", []),
                    "MaxAgeSeconds": rule.get("MaxAge", 0),
                }
            )
        client.put_bucket_cors(Bucket=bucket_name, CORSConfiguration={"CORSRules": rules})
    lifecycle = props.get("LifecycleConfiguration", {}).get("Rules")
    if lifecycle:
        rules = []
        for rule in lifecycle:
            out: dict[str, Any] = {"ID": rule["Id"], "Status": rule["Status"], "Filter": {"Prefix": rule.get("Prefix", "")}}
            if "ExpirationInDays" in rule:
                out["Expiration"] = {"Days": rule["ExpirationInDays"]}
            if "AbortIncompleteMultipartUpload" in rule:
                out["AbortIncompleteMultipartUpload"] = {
                    "DaysAfterInitiation": rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
                }
            rules.append(out)
        client.put_bucket_lifecycle_configuration(Bucket=bucket_name, LifecycleConfiguration={"Rules": rules})
    return bucket_name


def state_machine_definition(substitutions: dict[str, str]) -> str:
    """statemachines/batch.asl.json with SAM's DefinitionSubstitutions applied."""
    text = ASL_PATH.read_text(encoding="utf-8")
    for name, value in substitutions.items():
        text = text.replace("${" + name + "}", value)
    return text
