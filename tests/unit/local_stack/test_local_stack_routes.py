"""HTTP API route matching precedence, and CORS answers."""

from __future__ import annotations

import pytest

from local_stack.cors import Cors
from local_stack.model import HttpRoute
from local_stack.routes import RouteTable

pytestmark = pytest.mark.unit


def route(method: str, path: str, function: str = "Fn") -> HttpRoute:
    return HttpRoute(api_id="api", method=method, path=path, function=function, authorizer=None)


TABLE = RouteTable(
    [
        route("ANY", "/files/{proxy+}", "Greedy"),
        route("GET", "/items/{id}", "Param"),
        route("GET", "/items/special", "Literal"),
        route("ANY", "/items/{id}", "AnyParam"),
        route("POST", "/items/{id}/tags/{tag}", "Two"),
        route("GET", "/", "Root"),
    ]
)


@pytest.mark.parametrize(
    ("method", "path", "function", "params"),
    [
        ("GET", "/items/special", "Literal", {}),
        ("GET", "/items/42", "Param", {"id": "42"}),
        ("DELETE", "/items/42", "AnyParam", {"id": "42"}),
        ("POST", "/items/a%20b/tags/x", "Two", {"id": "a b", "tag": "x"}),
        ("PUT", "/files/a/b/c.png", "Greedy", {"proxy": "a/b/c.png"}),
        ("GET", "/", "Root", {}),
    ],
)
def test_most_specific_route_wins(method: str, path: str, function: str, params: dict) -> None:
    found = TABLE.match(method, path)
    assert found is not None
    assert found[0].function == function
    assert found[1] == params


@pytest.mark.parametrize(("method", "path"), [("GET", "/nothing"), ("GET", "/items"), ("GET", "/files"), ("POST", "/")])
def test_no_route(method: str, path: str) -> None:
    assert TABLE.match(method, path) is None


def test_default_route_catches_the_rest() -> None:
    table = RouteTable([route("GET", "/a", "A"), route("ANY", "$default", "Default")])
    assert table.match("GET", "/a")[0].function == "A"
    assert table.match("PATCH", "/zzz")[0].function == "Default"
    assert table.match("PATCH", "/zzz")[0].route_key == "$default"


def test_route_keys() -> None:
    assert route("GET", "/items/{id}").route_key == "GET /items/{id}"
    assert route("ANY", "/files/{proxy+}").route_key == "ANY /files/{proxy+}"


CORS = Cors.from_configs(
    [
        {
            "AllowOrigins": ["https://app.example.com"],
            "AllowMethods": ["GET", "POST"],
            "AllowHeaders": ["content-type"],
            "MaxAge": 600,
        }
    ],
    ["http://127.0.0.1:3000"],
    ["x-dev-user"],
)


def test_preflight_for_an_allowed_origin() -> None:
    assert CORS is not None
    headers = dict(CORS.preflight("https://app.example.com", "POST", "Content-Type, X-Dev-User"))
    assert headers["access-control-allow-origin"] == "https://app.example.com"
    assert headers["access-control-allow-methods"] == "GET,POST"
    assert "x-dev-user" in headers["access-control-allow-headers"]
    assert headers["access-control-max-age"] == "600"


def test_local_origin_is_allowed_and_others_are_not() -> None:
    assert CORS is not None
    assert dict(CORS.preflight("http://127.0.0.1:3000", "GET", ""))["access-control-allow-origin"]
    assert CORS.preflight("https://evil.example.com", "GET", "") == []
    assert CORS.preflight("https://app.example.com", "DELETE", "") == []
    assert CORS.preflight("https://app.example.com", "GET", "x-unknown") == []
    assert dict(CORS.response_headers("https://app.example.com"))["access-control-allow-origin"]
    assert CORS.response_headers("https://evil.example.com") == []


def test_wildcards() -> None:
    cors = Cors.from_configs([{"AllowOrigins": ["*"], "AllowMethods": ["*"], "AllowHeaders": ["*"]}])
    assert cors is not None
    headers = dict(cors.preflight("https://any.example.com", "PUT", "x-a"))
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == "PUT"
    assert headers["access-control-allow-headers"] == "x-a"
    assert Cors.from_configs([None]) is None
