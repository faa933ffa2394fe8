"""A handler's cold start as Lambda's init runs it: a fresh interpreter with the environment the
template gives that function (plus what Lambda itself sets, tracing included when the template
asks for it), the layer and the function's folder on ``sys.path``, then ``import app``.

One piece for `benchmarks/handler_imports.py` (how long the import takes) and the unit tests that
check which modules the import loads (never a timing assertion).
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from local_stack.model import FunctionSpec, StackModel
from tests.support.aws_resources import unit_template
from tests.support.handler_env import FAKE_AWS

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
LAYER = ROOT / "layers" / "shared"

# Run in the child with `python -c`: the clock starts after the interpreter is up, as Lambda's
# init duration covers the handler module's import. The result goes out after the clock stops.
_IMPORT_APP = """
import sys, time
sys.path[:0] = [{function!r}, {layer!r}]
CLIENTS = None
{prelude}
start = time.perf_counter()
import app
elapsed = time.perf_counter() - start
import json
print(json.dumps({{"ms": elapsed * 1000, "modules": sorted(sys.modules), "clients": CLIENTS}}))
"""
# Records every botocore client built during the import (boto3's included: they are botocore's).
# Imports botocore first, so only for the checks, never for the timing.
_WATCH_CLIENTS = """
CLIENTS = []
import botocore.session
_create_client = botocore.session.Session.create_client
def _recording_create_client(self, service_name, *args, **kwargs):
    CLIENTS.append(service_name)
    return _create_client(self, service_name, *args, **kwargs)
botocore.session.Session.create_client = _recording_create_client
"""


@dataclass(frozen=True)
class ColdStart:
    folder: str
    ms: float
    modules: frozenset[str]
    importtime: str  # -X importtime's report (stderr), "" unless asked for
    clients: tuple[str, ...] | None  # the botocore clients built by the import, None unless watched


def function_folders() -> list[str]:
    """Every folder under functions/ holding an app.py, sorted."""
    return sorted(path.parent.name for path in FUNCTIONS.glob("*/app.py"))


@functools.cache
def _specs_by_folder() -> dict[str, FunctionSpec]:
    model = StackModel.from_template(unit_template(), ROOT)
    return {spec.code_dir.name: spec for spec in model.functions.values()}


def lambda_environment(folder: str) -> dict[str, str]:
    """The template's variables for the function in `folder`, moto's fake credentials, and the
    variables Lambda sets itself: with them Powertools knows it runs in Lambda, so the Tracer is
    enabled exactly when the template has ``Tracing: Active`` (as on AWS)."""
    spec = _specs_by_folder()[folder]
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        **FAKE_AWS,
        **spec.environment,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
    }
    if unit_template().resolved_properties(spec.logical_id).get("Tracing") == "Active":
        env.update(
            {
                "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
                "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
                "_AWS_XRAY_DAEMON_PORT": "2000",
                "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            }
        )
    return env


def cold_start(
    folder: str, *, importtime: bool = False, watch_clients: bool = False, env: Mapping[str, str] | None = None
) -> ColdStart:
    """Imports functions/<folder>/app.py in a fresh interpreter, with `env` instead of
    `lambda_environment(folder)` if given. `importtime` adds -X importtime and `watch_clients`
    records the botocore clients built; both change the import, so neither is for the timing."""
    function_dir = FUNCTIONS / folder
    script = _IMPORT_APP.format(
        function=str(function_dir), layer=str(LAYER), prelude=_WATCH_CLIENTS if watch_clients else ""
    )
    flags = ["-X", "importtime"] if importtime else []
    done = subprocess.run(
        [sys.executable, *flags, "-c", script],
        cwd=function_dir,
        env=dict(lambda_environment(folder) if env is None else env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"importing functions/{folder}/app.py failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    clients = None if result["clients"] is None else tuple(result["clients"])
    return ColdStart(folder, float(result["ms"]), frozenset(result["modules"]), done.stderr if importtime else "", clients)


def self_times(report: str) -> list[tuple[str, float]]:
    """(module, self ms) from an -X importtime report, largest first."""
    rows: list[tuple[str, float]] = []
    for line in report.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|", 2)
        rows.append((name.strip(), int(self_us) / 1000))
    return sorted(rows, key=lambda row: row[1], reverse=True)
