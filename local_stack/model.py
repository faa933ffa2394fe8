"""What the template declares for the local stack: functions, HTTP routes, WebSocket routes,
schedules and CORS, read from a resolved `Template` (never restated)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .template import Template, TemplateError

FUNCTION_TYPES = ("AWS::Serverless::Function",)
HTTP_API_TYPES = ("AWS::Serverless::HttpApi",)
IMPLICIT_HTTP_API = "ServerlessHttpApi"


def env_value(value: Any) -> str:
    """Render a resolved value the way CloudFormation renders environment variables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    runtime: str
    memory_mb: int
    timeout_s: int
    environment: dict[str, str]
    layer_dirs: tuple[Path, ...]
    events: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class HttpRoute:
    api_id: str
    method: str  # upper case, or "ANY"
    path: str  # "/a/{b}/{proxy+}" or "$default"
    function: str  # logical id
    authorizer: str | None  # name of the authorizer, None for no auth
    payload_format_version: str = "2.0"

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class HttpApiSpec:
    logical_id: str
    api_id: str
    cors: dict[str, Any] | None
    authorizers: dict[str, dict[str, Any]]
    default_authorizer: str | None


@dataclass(frozen=True)
class WebSocketApiSpec:
    logical_id: str
    api_id: str
    stage: str
    route_selection_expression: str
    routes: dict[str, str]  # route key → function logical id


@dataclass(frozen=True)
class ScheduleSpec:
    function: str
    event_name: str
    expression: str
    input: str | None


@dataclass
class StackModel:
    template: Template
    root: Path
    functions: dict[str, FunctionSpec]
    http_apis: dict[str, HttpApiSpec]
    http_routes: list[HttpRoute]
    websocket: WebSocketApiSpec | None
    schedules: list[ScheduleSpec]

    @classmethod
    def from_template(cls, template: Template, root: Path) -> StackModel:
        functions = _functions(template, root)
        http_apis = _http_apis(template)
        routes = _http_routes(template, functions, http_apis)
        return cls(
            template=template,
            root=root,
            functions=functions,
            http_apis=http_apis,
            http_routes=routes,
            websocket=_websocket_api(template, functions),
            schedules=_schedules(template, functions),
        )

    def function_by_name(self, name_or_arn: str) -> FunctionSpec | None:
        """Find a function by name, ARN or partial ARN (with or without qualifier)."""
        name = function_name_of(name_or_arn)
        for spec in self.functions.values():
            if name in (spec.name, spec.logical_id):
                return spec
        return None

    def union_environment(self) -> tuple[dict[str, str], list[str]]:
        """Every function's environment in one mapping, and the names whose values disagree."""
        union: dict[str, str] = {}
        conflicts: list[str] = []
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key in union and union[key] != value and key not in conflicts:
                    conflicts.append(key)
                union[key] = value
        return union, conflicts


def _functions(template: Template, root: Path) -> dict[str, FunctionSpec]:
    layer_dirs_by_arn: dict[str, Path] = {}
    for logical_id, _ in template.resources_of("AWS::Serverless::LayerVersion"):
        props = template.resolved_properties(logical_id)
        content = props.get("ContentUri")
        if isinstance(content, str):
            layer_dirs_by_arn[template.arn(logical_id)] = (root / content).resolve()

    functions: dict[str, FunctionSpec] = {}
    for logical_id, _ in template.resources_of(*FUNCTION_TYPES):
        props = template.resolved_properties(logical_id)
        code_uri = props.get("CodeUri")
        handler = props.get("Handler")
        if not isinstance(code_uri, str) or not handler:
            raise TemplateError(f"{logical_id}: the local stack needs a local CodeUri and a Handler")
        variables = (props.get("Environment") or {}).get("Variables") or {}
        layers = tuple(layer_dirs_by_arn[arn] for arn in props.get("Layers", []) if arn in layer_dirs_by_arn)
        functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            name=template.physical_name(logical_id),
            arn=template.arn(logical_id),
            code_dir=(root / code_uri).resolve(),
            handler=str(handler),
            runtime=str(props.get("Runtime", "python3.13")),
            memory_mb=int(props.get("MemorySize", 128)),
            timeout_s=int(props.get("Timeout", 3)),
            environment={k: env_value(v) for k, v in variables.items()},
            layer_dirs=layers,
            events=props.get("Events") or {},
        )
    return functions


def _http_apis(template: Template) -> dict[str, HttpApiSpec]:
    apis: dict[str, HttpApiSpec] = {}
    for logical_id, _ in template.resources_of(*HTTP_API_TYPES):
        apis[logical_id] = _http_api_spec(template, logical_id, template.resolved_properties(logical_id))
    return apis


def _http_api_spec(template: Template, logical_id: str, props: dict[str, Any]) -> HttpApiSpec:
    auth = props.get("Auth") or {}
    cors = props.get("CorsConfiguration")
    if cors is True:
        cors = {"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}
    elif isinstance(cors, str):
        cors = {"AllowOrigins": [cors.strip("'")], "AllowMethods": ["*"], "AllowHeaders": ["*"]}
    return HttpApiSpec(
        logical_id=logical_id,
        api_id=template.ref(logical_id) if logical_id in template.data["Resources"] else "localhttp",
        cors=cors or None,
        authorizers=auth.get("Authorizers") or {},
        default_authorizer=auth.get("DefaultAuthorizer"),
    )


def _http_routes(template: Template, functions: dict[str, FunctionSpec], apis: dict[str, HttpApiSpec]) -> list[HttpRoute]:
    api_by_id = {api.api_id: api for api in apis.values()}
    routes: list[HttpRoute] = []
    for logical_id, spec in functions.items():
        for event in spec.events.values():
            if event.get("Type") != "HttpApi":
                continue
            props = event.get("Properties") or {}
            api = api_by_id.get(str(props["ApiId"])) if props.get("ApiId") else None
            if api is None:
                if IMPLICIT_HTTP_API not in apis:
                    apis[IMPLICIT_HTTP_API] = _http_api_spec(
                        template, IMPLICIT_HTTP_API, template.resolve(template.globals_for("HttpApi"))
                    )
                api = apis[IMPLICIT_HTTP_API]
            path = props.get("Path")
            method = str(props.get("Method", "ANY")).upper()
            if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
                method = "ANY"
            if path is None:
                path = "$default"
            authorizer = (props.get("Auth") or {}).get("Authorizer", api.default_authorizer)
            if authorizer == "NONE":
                authorizer = None
            routes.append(
                HttpRoute(
                    api_id=api.api_id,
                    method=method,
                    path=path,
                    function=logical_id,
                    authorizer=authorizer,
                    payload_format_version=str(props.get("PayloadFormatVersion", "2.0")),
                )
            )
    return routes


_FUNCTION_ARN = re.compile(r"functions/(arn:[^/]+)/invocations")


def _websocket_api(template: Template, functions: dict[str, FunctionSpec]) -> WebSocketApiSpec | None:
    ws_apis = [
        logical_id
        for logical_id, _ in template.resources_of("AWS::ApiGatewayV2::Api")
        if template.resolved_properties(logical_id).get("ProtocolType") == "WEBSOCKET"
    ]
    if not ws_apis:
        return None
    api_logical = ws_apis[0]
    api_id = template.ref(api_logical)
    props = template.resolved_properties(api_logical)

    function_by_arn = {spec.arn: spec.logical_id for spec in functions.values()}
    integrations: dict[str, str] = {}
    for logical_id, _ in template.resources_of("AWS::ApiGatewayV2::Integration"):
        iprops = template.resolved_properties(logical_id)
        if iprops.get("ApiId") != api_id:
            continue
        match = _FUNCTION_ARN.search(str(iprops.get("IntegrationUri", "")))
        function = function_by_arn.get(match.group(1)) if match else None
        if function is None:
            function = function_by_arn.get(str(iprops.get("IntegrationUri", "")))
        if function:
            integrations[template.ref(logical_id)] = function

    routes: dict[str, str] = {}
    for logical_id, _ in template.resources_of("AWS::ApiGatewayV2::Route"):
        rprops = template.resolved_properties(logical_id)
        if rprops.get("ApiId") != api_id:
            continue
        target = str(rprops.get("Target", ""))
        integration_id = target.split("/", 1)[1] if target.startswith("integrations/") else None
        if integration_id in integrations:
            routes[str(rprops["RouteKey"])] = integrations[integration_id]

    stage = "$default"
    for logical_id, _ in template.resources_of("AWS::ApiGatewayV2::Stage"):
        sprops = template.resolved_properties(logical_id)
        if sprops.get("ApiId") == api_id:
            stage = str(sprops.get("StageName", stage))
            break
    return WebSocketApiSpec(
        logical_id=api_logical,
        api_id=api_id,
        stage=stage,
        route_selection_expression=str(props.get("RouteSelectionExpression", "$request.body.action")),
        routes=routes,
    )


def _schedules(template: Template, functions: dict[str, FunctionSpec]) -> list[ScheduleSpec]:
    schedules: list[ScheduleSpec] = []
    for logical_id, spec in functions.items():
        for event_name, event in spec.events.items():
            if event.get("Type") not in ("Schedule", "ScheduleV2"):
                continue
            props = event.get("Properties") or {}
            if props.get("Enabled") is False or str(props.get("State", "ENABLED")).upper() == "DISABLED":
                continue
            schedules.append(
                ScheduleSpec(
                    function=logical_id,
                    event_name=event_name,
                    expression=str(props.get("Schedule") or props.get("ScheduleExpression", "")),
                    input=props.get("Input"),
                )
            )
    return schedules


def function_name_of(name_or_arn: str) -> str:
    """The function's name in a name, an ARN or a partial ARN, with or without a qualifier."""
    if name_or_arn.startswith("arn:"):
        parts = name_or_arn.split(":")
        return parts[6] if len(parts) > 6 else name_or_arn
    return name_or_arn.split(":")[0]
