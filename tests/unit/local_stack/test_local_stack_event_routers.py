"""Powertools' event handlers keep the request being resolved on a class attribute shared by
every resolver in a process. Lambda runs one invocation per container; the local stack runs
them all in one process, so a function whose module holds a resolver is invoked one request at
a time: concurrent requests are never answered with each other's event."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from local_stack.lambdas import Functions
from local_stack.model import StackModel
from tests.support.function_specs import function_spec

pytestmark = pytest.mark.unit

ROUTED = """
import time

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

app = APIGatewayHttpResolver()
INSIDE = {"now": 0, "most": 0}


@app.get("/who")
def who():
    INSIDE["now"] += 1
    INSIDE["most"] = max(INSIDE["most"], INSIDE["now"])
    time.sleep(0.02)  # another request arrives meanwhile
    INSIDE["now"] -= 1
    return {"user": app.current_event.headers.get("x-user")}


def handler(event, context):
    return app.resolve(event, context)
"""


def event(user: str) -> dict:
    return {"version": "2.0", "routeKey": "GET /who", "rawPath": "/who", "rawQueryString": "",
            "headers": {"x-user": user}, "isBase64Encoded": False,
            "requestContext": {"http": {"method": "GET", "path": "/who", "sourceIp": "127.0.0.1"}, "stage": "$default"}}


def test_given_a_function_holding_a_resolver_when_requests_come_together_then_each_gets_its_own_answer(
    tmp_path: Path,
) -> None:
    model = StackModel(template=None, root=tmp_path, functions={"Fn": function_spec(tmp_path, ROUTED)},  # type: ignore[arg-type]
                       http_apis={}, http_routes=[], websocket=None, schedules=[])
    functions = Functions(model)
    answers: dict[str, str] = {}

    def ask(user: str) -> None:
        answers[user] = functions.invoke("Fn", event(user))["body"]

    users = [f"user-{n}" for n in range(8)]
    threads = [threading.Thread(target=ask, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert {user: answers[user] for user in users} == {user: f'{{"user":"{user}"}}' for user in users}
    assert functions.handler("Fn").__wrapped__.__globals__["INSIDE"]["most"] == 1
