"""API Gateway HTTP API (v2) events and a Lambda context for calling handlers directly."""

from __future__ import annotations

import base64
import importlib
import json
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlencode


@dataclass
class FakeContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_function(name: str) -> ModuleType:
    return importlib.import_module(f"functions.{name}.app")


def http_event(
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    route_key: str | None = None,
    path_parameters: dict[str, str] | None = None,
    raw_body: bytes | None = None,
) -> dict[str, Any]:
    if raw_body is None and body is not None:
        raw_body = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    text: str | None = None
    is_b64 = False
    if raw_body is not None:
        try:
            text = raw_body.decode("utf-8")
        except UnicodeDecodeError:
            text, is_b64 = base64.b64encode(raw_body).decode(), True
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    lowered.setdefault("content-type", "application/json")
    return {
        "version": "2.0",
        "routeKey": route_key or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": urlencode(query or {}),
        "headers": lowered,
        "queryStringParameters": query or None,
        "pathParameters": path_parameters,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "pytest"},
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key or f"{method} {path}",
            "stage": "$default",
            "time": "21/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795766400000,
        },
        "body": text,
        "isBase64Encoded": is_b64,
    }


def ws_event(route: str, connection_id: str, body: str | None = None, query: dict[str, str] | None = None) -> dict[str, Any]:
    event_type = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE")
    return {
        "requestContext": {
            "routeKey": route,
            "eventType": event_type,
            "connectionId": connection_id,
            "domainName": "localhost",
            "stage": "prod",
            "apiId": "local",
            "requestId": uuid.uuid4().hex,
            "connectedAt": 1795766400000,
            "messageDirection": "IN",
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "queryStringParameters": query,
        "body": body,
        "isBase64Encoded": False,
    }


def answer_json(answer: dict[str, Any]) -> Any:
    return json.loads(answer["body"]) if answer.get("body") else None
