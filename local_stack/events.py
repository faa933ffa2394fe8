"""The events API Gateway (HTTP API payload v2.0, WebSocket) and EventBridge hand to Lambda,
and API Gateway's mapping of a v2 Lambda response back to HTTP. Pure functions, no sockets."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from .model import HttpRoute
from .template import ACCOUNT_ID, REGION

_TEXT_TYPES = ("json", "xml", "javascript", "yaml", "x-www-form-urlencoded", "graphql", "csv")


_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def request_id() -> str:
    """An API-Gateway-looking request / connection id, e.g. `Yr3bTe7JoAMCJ9g=` (16 characters,
    base64 of 11 bytes; letters and digits only, so it is safe in URL paths and keys)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(15)) + "="


def clf_time(epoch_ms: int) -> str:
    """`12/Mar/2020:19:03:58 +0000`, the format of `requestContext.time`."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    ct = content_type.lower()
    return ct.startswith("text/") or any(t in ct for t in _TEXT_TYPES)


def join_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Lower-case names; repeated headers joined with commas, as HTTP API v2 does."""
    joined: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def multi_headers(headers: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for name, value in headers:
        grouped.setdefault(name, []).append(value)
    return grouped


def query_parameters(raw_query: str) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params[key] = f"{params[key]},{value}" if key in params else value
    return params or None


def multi_query_parameters(raw_query: str) -> dict[str, list[str]] | None:
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return params or None


# --------------------------------------------------------------------------------------------
# HTTP API payload v2.0


@dataclass
class HttpRequest:
    method: str
    raw_path: str
    raw_query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"
    protocol: str = "HTTP/1.1"


def build_http_event(
    request: HttpRequest,
    route: HttpRoute,
    path_parameters: Mapping[str, str],
    *,
    authorizer: dict[str, Any] | None = None,
    now_ms: int | None = None,
) -> dict[str, Any]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    cookies: list[str] = []
    plain_headers: list[tuple[str, str]] = []
    for name, value in request.headers:
        if name.lower() == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        else:
            plain_headers.append((name, value))
    headers = join_headers(plain_headers)
    host = headers.get("host", "localhost")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
    }
    if cookies:
        event["cookies"] = cookies
    query = query_parameters(request.raw_query)
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": ACCOUNT_ID,
        "apiId": route.api_id,
        "domainName": host,
        "domainPrefix": host.split(".")[0].split(":")[0],
        "http": {
            "method": request.method.upper(),
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id(),
        "routeKey": route.route_key,
        "stage": "$default",
        "time": clf_time(now_ms),
        "timeEpoch": now_ms,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if request.body:
        if is_text(headers.get("content-type")):
            try:
                event["body"] = request.body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(request.body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(request.body).decode()
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def jwt_authorizer_context(user: str, jwt_configuration: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a JWT authorizer puts in `requestContext.authorizer` (claims of a local dev user)."""
    config = jwt_configuration or {}
    audience = config.get("audience") or []
    now = int(time.time())
    claims = {
        "sub": user,
        "iss": config.get("issuer", "local"),
        "aud": audience[0] if isinstance(audience, list) and audience else str(audience or "local"),
        "iat": str(now),
        "exp": str(now + 3600),
        "token_use": "id",
    }
    return {"jwt": {"claims": claims, "scopes": None}}


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class BadLambdaResponseError(ValueError):
    """API Gateway answers 500 for a response it cannot map."""


def map_http_response(result: Any) -> HttpResponse:
    """API Gateway's handling of a payload v2.0 Lambda response."""
    if not (isinstance(result, dict) and "statusCode" in result):
        # No statusCode: the whole return value is the JSON body, status 200.
        text = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(200, [("content-type", "application/json")], text.encode())
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError) as exc:
        raise BadLambdaResponseError(f"statusCode {result.get('statusCode')!r}") from exc
    if not 100 <= status <= 599:
        raise BadLambdaResponseError(f"statusCode {status}")
    headers: list[tuple[str, str]] = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((str(name).lower(), _header_value(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        seen = {h for h, _ in headers}
        if str(name).lower() in seen:
            continue
        for value in values or []:
            headers.append((str(name).lower(), _header_value(value)))
    for cookie in result.get("cookies") or []:
        headers.append(("set-cookie", str(cookie)))
    raw_body = result.get("body")
    body: bytes
    if raw_body is None:
        body = b""
    elif result.get("isBase64Encoded"):
        try:
            body = base64.b64decode(str(raw_body), validate=False)
        except ValueError as exc:
            raise BadLambdaResponseError("body is not base64") from exc
    else:
        body = (raw_body if isinstance(raw_body, str) else json.dumps(raw_body)).encode()
    if not any(name == "content-type" for name, _ in headers) and body:
        headers.append(("content-type", "application/json"))
    return HttpResponse(status, headers, body)


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --------------------------------------------------------------------------------------------
# WebSocket API


@dataclass
class WsConnectionInfo:
    connection_id: str
    api_id: str
    stage: str
    domain_name: str
    source_ip: str
    user_agent: str
    connected_at_ms: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    raw_query: str = ""


def _ws_request_context(info: WsConnectionInfo, route_key: str, event_type: str, now_ms: int) -> dict[str, Any]:
    identity = {"sourceIp": info.source_ip}
    if info.user_agent:
        identity["userAgent"] = info.user_agent
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id(),
        "requestTime": clf_time(now_ms),
        "messageDirection": "IN",
        "stage": info.stage,
        "connectedAt": info.connected_at_ms,
        "requestTimeEpoch": now_ms,
        "identity": identity,
        "requestId": request_id(),
        "domainName": info.domain_name,
        "connectionId": info.connection_id,
        "apiId": info.api_id,
    }


def build_ws_connect_event(info: WsConnectionInfo, now_ms: int | None = None) -> dict[str, Any]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    # $connect carries the handshake's headers with their original spelling.
    headers = dict(_title_headers(info.headers))
    event: dict[str, Any] = {
        "headers": headers,
        "multiValueHeaders": multi_headers(_title_headers(info.headers)),
        "requestContext": _ws_request_context(info, "$connect", "CONNECT", now_ms),
        "isBase64Encoded": False,
    }
    query = query_parameters(info.raw_query)
    if query:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query_parameters(info.raw_query)
    return event


def build_ws_message_event(
    info: WsConnectionInfo, route_key: str, body: str | bytes, now_ms: int | None = None
) -> dict[str, Any]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    context = _ws_request_context(info, route_key, "MESSAGE", now_ms)
    context["messageId"] = request_id()
    if isinstance(body, bytes):
        return {"requestContext": context, "body": base64.b64encode(body).decode(), "isBase64Encoded": True}
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def build_ws_disconnect_event(info: WsConnectionInfo, status_code: int, reason: str, now_ms: int | None = None) -> dict[str, Any]:
    now_ms = now_ms if now_ms is not None else int(time.time() * 1000)
    context = _ws_request_context(info, "$disconnect", "DISCONNECT", now_ms)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    headers = {"Host": info.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def _title_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [("-".join(p.capitalize() for p in name.split("-")), value) for name, value in headers]


def select_ws_route(expression: str, body: str | bytes, routes: Iterable[str]) -> str | None:
    """The route key for a message: `$request.body.<path>` of a JSON body if declared, else
    `$default` if declared, else None."""
    declared = set(routes)
    key: Any = None
    if expression.startswith("$request.body.") and isinstance(body, str):
        try:
            key = json.loads(body)
            for part in expression[len("$request.body.") :].split("."):
                key = key.get(part) if isinstance(key, dict) else None
        except ValueError:
            key = None
    if isinstance(key, str) and key in declared and not key.startswith("$"):
        return key
    return "$default" if "$default" in declared else None


# --------------------------------------------------------------------------------------------
# EventBridge scheduled event


def build_scheduled_event(rule_name: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{rule_name}"],
        "detail": {},
    }
