"""Builds the template's table and bucket in moto, so tests never restate them."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_CfnLoader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=1)
def load_template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def resource(logical_id: str) -> dict[str, Any]:
    return load_template()["Resources"][logical_id]


def create_table_from_template(client: Any, table_name: str, logical_id: str = "MarketplaceTable") -> None:
    props = resource(logical_id)["Properties"]
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
    if ttl:
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)


def create_bucket_from_template(client: Any, bucket_name: str, logical_id: str = "AssetsBucket") -> None:
    props = resource(logical_id)["Properties"]
    client.create_bucket(Bucket=bucket_name)
    cors = props.get("CorsConfiguration", {}).get("CorsRules")
    if cors:
        # CloudFormation spells two fields differently from the S3 API.
        renames = {"MaxAge": "MaxAgeSeconds", "Id": "ID"}
        rules = [
            {renames.get(k, k): v for k, v in rule.items()}
            | {"AllowedOrigins": ["*" if isinstance(o, dict) else o for o in rule["AllowedOrigins"]]}
            for rule in cors
        ]
        client.put_bucket_cors(Bucket=bucket_name, CORSConfiguration={"CORSRules": rules})
