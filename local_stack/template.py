"""Load template.yaml (CloudFormation short tags included) and resolve its intrinsics locally.

Nothing here restates the template: names, ARNs and ids are derived from logical ids and the
template's own properties, against a local context (parameters' defaults, overridable, and the
pseudo parameters of a local stack).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
STACK_NAME = "car-marketplace-local"
PARTITION = "aws"


class TemplateError(ValueError):
    """The template uses something the local stack cannot resolve."""


class _NoValue:
    """`AWS::NoValue`: the key or list item it stands for is removed."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


# --------------------------------------------------------------------------------------------
# Loading


class CfnLoader(yaml.SafeLoader):
    """A YAML loader that turns CloudFormation short tags into their dict forms."""


def _construct_tag(loader: yaml.Loader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM YAML (or JSON) template into plain dicts."""
    text = Path(path).read_text(encoding="utf-8")
    data = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return data


# --------------------------------------------------------------------------------------------
# Names


def local_id(logical_id: str, length: int = 10) -> str:
    """A stable API-Gateway-like id (lower-case alphanumerics) for a logical id."""
    digest = hashlib.sha1(logical_id.encode()).digest()  # noqa: S324 - not security
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def sam_merge(global_value: Any, local_value: Any) -> Any:
    """SAM's Globals rule: maps merge (local wins), lists add up, scalars are overridden."""
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        if _is_intrinsic(global_value) or _is_intrinsic(local_value):
            return copy.deepcopy(local_value)
        merged = copy.deepcopy(global_value)
        for key, value in local_value.items():
            merged[key] = sam_merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return copy.deepcopy(global_value) + copy.deepcopy(local_value)
    return copy.deepcopy(local_value)


# --------------------------------------------------------------------------------------------
# The template and its resolution context


# ARNs by resource type, as CloudFormation would return them for !GetAtt X.Arn / !Ref.
_ARN_PATTERNS = {
    "AWS::Serverless::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{name}",
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{name}",
    "AWS::S3::Bucket": "arn:{p}:s3:::{name}",
    "AWS::Serverless::StateMachine": "arn:{p}:states:{r}:{a}:stateMachine:{name}",
    "AWS::StepFunctions::StateMachine": "arn:{p}:states:{r}:{a}:stateMachine:{name}",
    "AWS::Serverless::LayerVersion": "arn:{p}:lambda:{r}:{a}:layer:{name}:1",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{name}",
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{name}",
    "AWS::SNS::Topic": "arn:{p}:sns:{r}:{a}:{name}",
}


@dataclass
class Template:
    """A parsed template, resolved against a local context."""

    data: dict[str, Any]
    path: Path | None = None
    parameter_overrides: Mapping[str, Any] = field(default_factory=dict)
    region: str = REGION
    account_id: str = ACCOUNT_ID
    stack_name: str = STACK_NAME
    partition: str = PARTITION

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> Template:
        return cls(load_template(path), path=Path(path), **kwargs)

    # -- sections ---------------------------------------------------------------------------

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.data.get("Resources", {}).items()
            if self.resource_enabled(logical_id)
        }

    def resources_of(self, *types: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource.get("Type") in types:
                yield logical_id, resource

    def resource_enabled(self, logical_id: str) -> bool:
        condition = self.data["Resources"][logical_id].get("Condition")
        return True if condition is None else self.condition(condition)

    @cached_property
    def parameters(self) -> dict[str, Any]:
        """Parameter values: overrides, else defaults (CommaDelimitedList → list)."""
        values: dict[str, Any] = {}
        for name, spec in (self.data.get("Parameters") or {}).items():
            if name in self.parameter_overrides:
                raw = self.parameter_overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            ptype = spec.get("Type", "String")
            if ptype == "CommaDelimitedList" or ptype.startswith("List<"):
                values[name] = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",")]
            else:
                values[name] = "" if raw is None else str(raw)
        return values

    def globals_for(self, section: str) -> dict[str, Any]:
        return (self.data.get("Globals") or {}).get(section) or {}

    def properties(self, logical_id: str) -> dict[str, Any]:
        """A resource's properties, with SAM Globals merged in for serverless types."""
        resource = self.data["Resources"][logical_id]
        props = resource.get("Properties") or {}
        rtype = resource.get("Type", "")
        section = {
            "AWS::Serverless::Function": "Function",
            "AWS::Serverless::HttpApi": "HttpApi",
            "AWS::Serverless::Api": "Api",
            "AWS::Serverless::SimpleTable": "SimpleTable",
            "AWS::Serverless::StateMachine": "StateMachine",
            "AWS::Serverless::LayerVersion": "LayerVersion",
        }.get(rtype)
        if section is None:
            return props
        return sam_merge(self.globals_for(section), props)

    def resolved_properties(self, logical_id: str) -> dict[str, Any]:
        return self.resolve(self.properties(logical_id))

    # -- conditions -------------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        conditions = self.data.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    # -- physical names ---------------------------------------------------------------------

    def _sub_scalar(self, value: Any) -> str:
        return str(self.resolve(value))

    def physical_name(self, logical_id: str) -> str:
        """The local name of a resource (what `Ref` gives for named resources)."""
        resource = self.data["Resources"].get(logical_id)
        if resource is None:
            raise TemplateError(f"unknown resource {logical_id}")
        rtype = resource.get("Type", "")
        props = resource.get("Properties") or {}
        explicit = {
            "AWS::DynamoDB::Table": "TableName",
            "AWS::S3::Bucket": "BucketName",
            "AWS::Serverless::Function": "FunctionName",
            "AWS::Lambda::Function": "FunctionName",
            "AWS::Serverless::StateMachine": "Name",
            "AWS::StepFunctions::StateMachine": "StateMachineName",
            "AWS::SQS::Queue": "QueueName",
            "AWS::SNS::Topic": "TopicName",
            "AWS::Serverless::LayerVersion": "LayerName",
            "AWS::IAM::Role": "RoleName",
        }.get(rtype)
        if explicit and props.get(explicit) is not None:
            return self._sub_scalar(props[explicit])
        if rtype in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            return logical_id
        if rtype == "AWS::S3::Bucket":
            name = f"{self.stack_name}-{logical_id}".lower()
            return re.sub(r"[^a-z0-9.-]", "-", name)[:63]
        if rtype in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return logical_id
        return f"{self.stack_name}-{logical_id}"

    def arn(self, logical_id: str) -> str:
        rtype = self.data["Resources"][logical_id].get("Type", "")
        name = self.physical_name(logical_id)
        p, r, a = self.partition, self.region, self.account_id
        pattern = _ARN_PATTERNS.get(rtype)
        if pattern:
            return pattern.format(p=p, r=r, a=a, name=name)
        service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "local"
        return f"arn:{p}:{service}:{r}:{a}:{name}"

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:"
                f"stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
            ),
            "AWS::Partition": self.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NotificationARNs": [],
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        params = self.parameters
        if name in params:
            return params[name]
        resource = self.data.get("Resources", {}).get(name)
        if resource is None:
            raise TemplateError(f"Ref to unknown name {name!r}")
        rtype = resource.get("Type", "")
        if rtype in (
            "AWS::Serverless::StateMachine",
            "AWS::StepFunctions::StateMachine",
            "AWS::Serverless::LayerVersion",
            "AWS::SNS::Topic",
        ):
            return self.arn(name)
        if rtype == "AWS::SQS::Queue":
            return f"http://sqs.{self.region}.localhost/{self.account_id}/{self.physical_name(name)}"
        if rtype in (
            "AWS::Serverless::HttpApi",
            "AWS::Serverless::Api",
            "AWS::ApiGatewayV2::Api",
            "AWS::ApiGateway::RestApi",
            "AWS::ApiGatewayV2::Integration",
            "AWS::ApiGatewayV2::Route",
            "AWS::ApiGatewayV2::Deployment",
            "AWS::ApiGatewayV2::Authorizer",
        ):
            return local_id(name)
        if rtype == "AWS::ApiGatewayV2::Stage":
            props = resource.get("Properties") or {}
            return self._sub_scalar(props.get("StageName", "$default"))
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.data.get("Resources", {}).get(logical_id)
        if resource is None:
            raise TemplateError(f"GetAtt of unknown resource {logical_id!r}")
        rtype = resource.get("Type", "")
        name = self.physical_name(logical_id)
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("Name", "TableName", "QueueName", "TopicName", "StateMachineName"):
            return name
        if rtype == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return f"{self.arn(logical_id)}/stream/1970-01-01T00:00:00.000"
        if rtype == "AWS::S3::Bucket":
            if attribute == "DomainName":
                return f"{name}.s3.amazonaws.com"
            if attribute == "RegionalDomainName":
                return f"{name}.s3.{self.region}.amazonaws.com"
            if attribute == "WebsiteURL":
                return f"http://{name}.s3-website-{self.region}.amazonaws.com"
        if attribute in ("ApiId", "RestApiId"):
            return local_id(logical_id)
        if attribute == "ApiEndpoint":
            return f"https://{local_id(logical_id)}.execute-api.{self.region}.amazonaws.com"
        if attribute == "QueueUrl":
            return self.ref(logical_id)
        raise TemplateError(f"GetAtt {logical_id}.{attribute} is not known to the local stack")

    # -- intrinsic resolution ---------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """Resolve every intrinsic function inside `value` (returns a new structure)."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(self.resolve(arg))
            if key == "Condition":
                return self.condition(arg)
            if isinstance(key, str) and key.startswith("Fn::"):
                return self._function(key[4:], arg)
        resolved = {}
        for key, item in value.items():
            item = self.resolve(item)
            if item is not NO_VALUE:
                resolved[key] = item
        return resolved

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Sub":
            return self._sub(arg)
        if name == "GetAtt":
            parts = self.resolve(arg)
            if isinstance(parts, str):
                parts = parts.split(".", 1)
            return self.get_att(parts[0], ".".join(parts[1:]))
        if name == "Join":
            delimiter, items = arg
            return str(self.resolve(delimiter)).join(str(i) for i in self.resolve(items))
        if name == "If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Equals":
            left, right = self.resolve(arg)
            return str(left) == str(right)
        if name == "And":
            return all(self._truth(item) for item in arg)
        if name == "Or":
            return any(self._truth(item) for item in arg)
        if name == "Not":
            return not self._truth(arg[0])
        if name == "Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Split":
            delimiter, text = self.resolve(arg)
            return str(text).split(delimiter)
        if name == "FindInMap":
            map_name, top, second = self.resolve(arg)
            try:
                return self.data["Mappings"][map_name][top][second]
            except KeyError as exc:
                raise TemplateError(f"FindInMap {map_name}/{top}/{second} not found") from exc
        if name == "Base64":
            return base64.b64encode(str(self.resolve(arg)).encode()).decode()
        if name == "ToJsonString":
            return json.dumps(self.resolve(arg), separators=(",", ":"))
        if name == "Length":
            return len(self.resolve(arg))
        if name == "GetAZs":
            return [f"{self.region}{z}" for z in "abc"]
        raise TemplateError(f"Fn::{name} is not supported by the local stack")

    def _truth(self, value: Any) -> bool:
        if isinstance(value, dict) and set(value) == {"Condition"}:
            return self.condition(value["Condition"])
        return bool(self.resolve(value))

    _SUB = re.compile(r"\$\{([^}]+)\}")

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self.resolve(arg[1] if len(arg) > 1 else {})
        else:
            text, variables = arg, {}

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            expr = expr.strip()
            if expr in variables:
                return str(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                logical_id, attribute = expr.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            value = self.ref(expr)
            if isinstance(value, list):
                raise TemplateError(f"${{{expr}}} is a list and cannot be substituted")
            return str(value)

        return self._SUB.sub(replace, str(text))
