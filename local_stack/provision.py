"""Create the template's resources in moto: tables, buckets, one Lambda function per
`AWS::Serverless::Function` (so the state machine can invoke it) and the state machines."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .model import StackModel
from .template import Template, TemplateError

LOCAL_ROLE = "local-stack-execution-role"
_ASSUME = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
            "Action": "sts:AssumeRole",
        }
    ],
}


@dataclass
class Provisioned:
    tables: dict[str, str] = field(default_factory=dict)  # logical id → table name
    buckets: dict[str, str] = field(default_factory=dict)  # logical id → bucket name
    functions: dict[str, str] = field(default_factory=dict)  # logical id → function ARN
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id → ARN
    skipped: list[str] = field(default_factory=list)  # "LogicalId (Type)" not created locally


def provision(model: StackModel, session: Any, endpoint_url: str, local_origins: Iterable[str]) -> Provisioned:
    def client(service: str) -> Any:
        return session.client(service, endpoint_url=endpoint_url, region_name=model.template.region)

    template = model.template
    out = Provisioned()
    dynamodb = client("dynamodb")
    for logical_id, _ in template.resources_of("AWS::DynamoDB::Table"):
        out.tables[logical_id] = create_table(dynamodb, template, logical_id)
    for logical_id, _ in template.resources_of("AWS::Serverless::SimpleTable"):
        out.tables[logical_id] = create_simple_table(dynamodb, template, logical_id)

    s3 = client("s3")
    for logical_id, _ in template.resources_of("AWS::S3::Bucket"):
        out.buckets[logical_id] = create_bucket(s3, template, logical_id, list(local_origins))

    role_arn = client("iam").create_role(RoleName=LOCAL_ROLE, AssumeRolePolicyDocument=json.dumps(_ASSUME))["Role"]["Arn"]

    lambda_client = client("lambda")
    code = _tiny_zip()
    for spec in model.functions.values():
        response = lambda_client.create_function(
            FunctionName=spec.name,
            Runtime=spec.runtime,
            Role=role_arn,
            Handler=spec.handler,
            Code={"ZipFile": code},
            Timeout=spec.timeout_s,
            MemorySize=spec.memory_mb,
            Environment={"Variables": spec.environment},
        )
        out.functions[spec.logical_id] = response["FunctionArn"]

    sfn = client("stepfunctions")
    for logical_id, _ in template.resources_of("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
        out.state_machines[logical_id] = create_state_machine(sfn, template, logical_id, model.root, role_arn)

    created = {
        "AWS::DynamoDB::Table",
        "AWS::Serverless::SimpleTable",
        "AWS::S3::Bucket",
        "AWS::Serverless::Function",
        "AWS::Serverless::StateMachine",
        "AWS::StepFunctions::StateMachine",
    }
    served = {
        "AWS::Serverless::HttpApi",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Route",
        "AWS::ApiGatewayV2::Integration",
        "AWS::ApiGatewayV2::Stage",
        "AWS::ApiGatewayV2::Deployment",
        "AWS::Serverless::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::S3::BucketPolicy",
    }
    # Logging plumbing that only matters in the cloud: logs go to the console locally.
    cloud_only = {"AWS::Logs::LogGroup", "AWS::IAM::Role", "AWS::ApiGateway::Account"}
    for logical_id, resource in template.resources.items():
        if resource.get("Type") not in created | served | cloud_only:
            out.skipped.append(f"{logical_id} ({resource.get('Type')})")
    return out


def create_state_machine(sfn: Any, template: Template, logical_id: str, root: Path, role_arn: str) -> str:
    """The state machine under its template name and ARN, its definition read from `root`."""
    arn = sfn.create_state_machine(
        name=template.physical_name(logical_id),
        definition=state_machine_definition(template, logical_id, root),
        roleArn=role_arn,
        type=_state_machine_type(template.resolved_properties(logical_id)),
    )["stateMachineArn"]
    if arn != template.arn(logical_id):
        raise TemplateError(f"{logical_id}: moto gave {arn}, the template resolves {template.arn(logical_id)}")
    return str(arn)


def _state_machine_type(props: dict[str, Any]) -> str:
    return str(props.get("Type") or props.get("StateMachineType") or "STANDARD")


def create_table(dynamodb: Any, template: Template, logical_id: str, name: str | None = None) -> str:
    """The table as the template declares it, under its local name (or `name`, for unit tests)."""
    props = template.resolved_properties(logical_id)
    name = name or template.physical_name(logical_id)
    billing = props.get("BillingMode", "PROVISIONED")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": billing,
    }
    throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    if billing == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = _throughput(throughput)
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        indexes = []
        for index in props.get(key) or []:
            entry = {k: index[k] for k in ("IndexName", "KeySchema", "Projection") if k in index}
            if key == "GlobalSecondaryIndexes" and billing == "PROVISIONED":
                entry["ProvisionedThroughput"] = _throughput(index.get("ProvisionedThroughput") or throughput)
            indexes.append(entry)
        if indexes:
            kwargs[key] = indexes
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    dynamodb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled") in (True, "true", "True"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
        )
    return name


def _throughput(value: dict[str, Any]) -> dict[str, int]:
    return {
        "ReadCapacityUnits": int(value["ReadCapacityUnits"]),
        "WriteCapacityUnits": int(value["WriteCapacityUnits"]),
    }


def create_simple_table(dynamodb: Any, template: Template, logical_id: str) -> str:
    props = template.resolved_properties(logical_id)
    name = template.physical_name(logical_id)
    key = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
    kind = {"String": "S", "Number": "N", "Binary": "B"}[key.get("Type", "String")]
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": key["Name"], "AttributeType": kind}],
        KeySchema=[{"AttributeName": key["Name"], "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def create_bucket(s3: Any, template: Template, logical_id: str, local_origins: list[str], name: str | None = None) -> str:
    """The bucket with the template's CORS rules plus `local_origins`, under its local name (or `name`)."""
    props = template.resolved_properties(logical_id)
    name = name or template.physical_name(logical_id)
    s3.create_bucket(Bucket=name)
    rules = ((props.get("CorsConfiguration") or {}).get("CorsRules")) or []
    if rules:
        s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [_cors_rule(r, local_origins) for r in rules]})
    return name


def _cors_rule(rule: dict[str, Any], local_origins: list[str]) -> dict[str, Any]:
    origins = list(rule.get("AllowedOrigins") or [])
    origins += [o for o in local_origins if o not in origins]
    out: dict[str, Any] = {"AllowedMethods": rule["AllowedMethods"], "AllowedOrigins": origins}
    if rule.get("AllowedHeaders"):
        out["AllowedHeaders"] = rule["AllowedHeaders"]
    if rule.get("ExposedHeaders"):
        out["ExposeHeaders"] = rule["ExposedHeaders"]
    if rule.get("MaxAge") is not None:
        out["MaxAgeSeconds"] = int(rule["MaxAge"])
    if rule.get("Id"):
        out["ID"] = rule["Id"]
    return out


def state_machine_definition(template: Template, logical_id: str, root: Path) -> str:
    """The definition text with `DefinitionSubstitutions` applied (as SAM does)."""
    props = template.resolved_properties(logical_id)
    if isinstance(props.get("DefinitionUri"), str):
        text = (root / props["DefinitionUri"]).read_text(encoding="utf-8")
    elif isinstance(props.get("Definition"), dict):
        text = json.dumps(props["Definition"])
    elif isinstance(props.get("DefinitionString"), str):
        text = props["DefinitionString"]
    else:
        raise TemplateError(f"{logical_id}: needs a local DefinitionUri, Definition or DefinitionString")
    for key, value in (props.get("DefinitionSubstitutions") or {}).items():
        text = text.replace("${" + key + "}", str(value))
    try:
        json.loads(text)
    except ValueError:  # SAM also takes YAML definitions
        text = json.dumps(yaml.safe_load(text))
    return text


def _tiny_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README.txt", "Dispatched in-process by local_stack; this zip is never run.\n")
    return buffer.getvalue()
