"""`LocalStack`: the whole product — moto (DynamoDB, S3, Step Functions executing the real
definition, Lambda dispatched to the real handlers), the gateway, the Replicate stand-in and the
schedules — provisioned from template.yaml. The gateway, the handlers and the schedules run in
this process; moto and the stand-in here too, or each in a child process of its own
(`moto_process=True`, `standin_process=True`: what `python -m local_stack` does)."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
import traceback
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .aws_limits import HTTP_API_INTEGRATION_TIMEOUT_SECONDS
from .children import ChildProcess
from .environment import LocalSecrets, local_environment
from .gateway import Gateway
from .lambdas import Functions, MotoLambdaDispatch, clear_code_caches
from .model import StackModel
from .moto_process import MOTO_CONFIG, MOTO_PROCESS_ENV, ShortMotoLog, applied_moto_fixes
from .poller import POLL_SECONDS, REMOTE_TARGETS, REPLICATE, STANDIN, TARGETS, Poller
from .process_speedups import process_speedups
from .provision import Provisioned, provision
from .remote_lambda import LambdaInvokeServer
from .schedules import Scheduler
from .servers import MotoThread, UvicornThread, bind
from .template import Template

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"


def _print(line: str) -> None:
    print(line, flush=True)


class LocalStack:
    """Start with `start()` (or `with LocalStack() as stack:`); ports 0 pick free ports."""

    _active: LocalStack | None = None
    _active_lock = threading.Lock()

    def __init__(
        self,
        port: int = 0,
        standin_port: int = 0,
        moto_port: int = 0,
        env: Mapping[str, str] | None = None,
        quiet: bool = False,
        *,
        template_path: str | Path | None = None,
        root: str | Path | None = None,
        parameters: Mapping[str, Any] | None = None,
        schedule_seconds: float | None = None,
        standin: bool = True,
        log: Callable[[str], None] | None = None,
        warm: bool = False,
        integration_timeout_s: float = HTTP_API_INTEGRATION_TIMEOUT_SECONDS,
        standin_process: bool = False,
        moto_process: bool = False,
        replicate: str = STANDIN,
    ) -> None:
        self.root = Path(root).resolve() if root else ROOT
        self.template_path = Path(template_path).resolve() if template_path else self.root / "template.yaml"
        self._ports = (port, standin_port, moto_port)
        self._env = dict(env or {})
        self.quiet = quiet
        self.log: Callable[[str], None] | None = None if quiet else (log or _print)
        self.parameters = dict(parameters or {})
        self._schedule_seconds = schedule_seconds
        if replicate not in TARGETS:
            raise ValueError(f"replicate must be one of {', '.join(TARGETS)}, got {replicate!r}")
        self.replicate = replicate  # poller.TARGETS: which Replicate, and laptop mode for the remote ones
        self.with_standin = standin and replicate != REPLICATE
        self.standin_process = standin_process
        self.moto_process = moto_process
        self.warm = warm
        self.integration_timeout_s = integration_timeout_s
        self.secrets = LocalSecrets.from_env({**os.environ, **self._env})

        self.model: StackModel | None = None
        self.functions: Functions | None = None
        self.gateway: Gateway | None = None
        self.resources: Provisioned | None = None
        self.startup_seconds: float | None = None
        self._moto: MotoThread | None = None
        self._gateway_server: UvicornThread | None = None
        self._standin_server: UvicornThread | None = None
        self._standin_app: Any = None
        self._standin_child: ChildProcess | None = None
        self._moto_child: ChildProcess | None = None
        self._invoke_server: LambdaInvokeServer | None = None
        self.failure: str | None = None
        self._scheduler: Scheduler | None = None
        self._poller: Poller | None = None
        self._dispatch: MotoLambdaDispatch | None = None
        self._saved_environ: dict[str, str] | None = None
        self._saved_moto_config: dict[str, Any] | None = None
        self._saved_sys_path: list[str] | None = None
        self._running = False
        self._sockets: list[socket.socket] = []
        self._urls: dict[str, Any] = {}
        self._moto_log: ShortMotoLog | None = None
        self._patches: contextlib.ExitStack | None = None  # moto's fixes (moto in-process), else this process's

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalStack:
        with LocalStack._active_lock:
            if LocalStack._active is not None:
                raise RuntimeError("a LocalStack is already running in this process (moto and os.environ are global)")
            LocalStack._active = self
        started = time.perf_counter()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.perf_counter() - started
        return self

    def _start(self) -> None:
        template = Template.load(self.template_path, parameter_overrides=self.parameters)
        self.model = StackModel.from_template(template, self.root)
        self.functions = Functions(self.model)
        port, standin_port, moto_port = self._ports
        gateway_sock = bind(port)
        self._sockets.append(gateway_sock)
        standin_sock = bind(standin_port) if self.with_standin else None
        if standin_sock is not None:
            self._sockets.append(standin_sock)
        if self.moto_process:
            moto_sock = bind(moto_port)
            moto_port = moto_sock.getsockname()[1]
        else:
            self._moto = MotoThread(moto_port)
            self._moto.start()
            moto_port = self._moto.port

        self._apply_environment(
            gateway_sock.getsockname()[1], standin_sock.getsockname()[1] if standin_sock else 0, moto_port
        )
        # Children start now (os.environ holds their settings: STANDIN_*, MOTO_PORT) and import
        # while this process carries on; each is ready-checked before it is first needed.
        if self.moto_process:
            self._invoke_server = LambdaInvokeServer(self.functions, self._function_error)
            self._invoke_server.start()
            names = sorted({spec.name for spec in self.model.functions.values()})
            args = ["--invoke-url", self._invoke_server.url, "--functions", ",".join(names)]
            self._moto_child = ChildProcess(
                "moto", "local_stack.moto_process", moto_sock, {**MOTO_PROCESS_ENV, **os.environ},
                [*args, *(["--log"] if self.log else [])],
                on_exit=self._child_exited,
            )  # fmt: skip
            self._moto_child.start()
        if standin_sock is not None and self.standin_process:
            self._sockets.remove(standin_sock)
            self._standin_child = ChildProcess(
                "replicate-standin", "local_stack.standin_process", standin_sock, os.environ, on_exit=self._child_exited
            )
            self._standin_child.start()
        self._saved_sys_path = list(sys.path)
        for extra in (self.root,):
            if str(extra) not in sys.path:
                sys.path.append(str(extra))
        clear_code_caches(self._code_dirs())
        if self._moto_child is not None:
            # This process reads every AWS answer (botocore) and every invoke: the same speedups
            # as moto's process (in-process moto gets them with its fixes below).
            self._patches = contextlib.ExitStack()
            self._patches.enter_context(process_speedups())
            self._moto_child.wait_ready("/moto-api/config")
        else:
            if self.log is not None:
                self._moto_log = ShortMotoLog()
                self._moto_log.install()
            # The corrections (moto_process.moto_fixes) apply before provisioning: creating the
            # state machine parses its definition.
            self._patches = contextlib.ExitStack()
            self._patches.enter_context(applied_moto_fixes())
            self._dispatch = MotoLambdaDispatch(self.functions, self._function_error)
            self._dispatch.install()
        self._configure_moto()

        import boto3

        session = boto3.session.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            region_name=template.region,
        )
        self.resources = provision(self.model, session, self.moto_url, self.local_origins)
        if self.log and self.resources.skipped:
            self.log("not created locally: " + ", ".join(self.resources.skipped))

        if standin_sock is not None and self._standin_child is None:
            self._standin_app = _create_standin_app()
            self._standin_server = UvicornThread(self._standin_app, standin_sock, "replicate-standin")
            self._standin_server.start()

        self.gateway = Gateway(
            self.model,
            self.functions,
            local_origins=self.local_origins,
            web_dir=self.root / "web",
            presets_dir=self.root / "samples" / "presets",
            log=self.log,
            integration_timeout_s=self.integration_timeout_s,
        )
        self._gateway_server = UvicornThread(self.gateway, gateway_sock, "gateway")
        self._gateway_server.start()

        interval = self._schedule_seconds
        if interval is None and os.environ.get("LOCAL_SCHEDULE_SECONDS"):
            interval = float(os.environ["LOCAL_SCHEDULE_SECONDS"])  # else each schedule's own rate
        schedules = self.model.schedules
        if self.replicate in REMOTE_TARGETS:
            # Laptop mode: no webhook can reach us; the reconciler's sweep is the completion path.
            reconcile, schedules = Poller.split(schedules)
            poll_s = float(os.environ.get("LOCAL_POLL_SECONDS") or POLL_SECONDS)
            self._poller = Poller(reconcile, self.functions.invoke, poll_s, self.log)
            self._poller.start()
        self._scheduler = Scheduler(schedules, self.functions.invoke, interval, self.log)
        self._scheduler.start()
        if self._standin_child is not None:
            self._standin_child.wait_ready()
        self._running = True
        if self.warm:
            threading.Thread(target=self._warm, name="local-warm", daemon=True).start()

    def stop(self) -> None:
        """Stop everything; bounded in time (moto executions waiting on tokens are left behind
        as daemon threads after being asked to stop)."""
        self._running = False
        if self._scheduler:
            self._scheduler.stop()
        if self._poller:
            self._poller.stop()
        if self.gateway:
            self.gateway.accepting = False
        self._stop_executions()
        stoppers = [
            threading.Thread(target=server.stop, daemon=True)
            for server in (
                self._gateway_server,
                self._standin_server,
                self._standin_child,
                self._moto,
                self._moto_child,
                self._invoke_server,
            )
            if server is not None
        ]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join(5)
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        self._sockets.clear()
        if self._dispatch:
            self._dispatch.uninstall()
        if self._patches is not None:
            self._patches.close()
            self._patches = None
        if self._moto_log is not None:
            self._moto_log.uninstall()
            self._moto_log = None
        self._restore()
        if self.model is not None:
            clear_code_caches(self._code_dirs())
        with LocalStack._active_lock:
            if LocalStack._active is self:
                LocalStack._active = None

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _warm(self) -> None:
        """Import every handler in the background so first requests skip the cold start."""
        assert self.functions is not None and self.model is not None
        for logical_id in self.model.functions:
            if not self._running:
                return
            try:
                self.functions.handler(logical_id)
            except Exception as exc:
                if self.log:
                    self.log(f"{logical_id} does not import: {type(exc).__name__}: {exc}")

    def _code_dirs(self) -> list[Path]:
        assert self.model is not None
        dirs = {spec.code_dir for spec in self.model.functions.values()}
        dirs |= {layer for spec in self.model.functions.values() for layer in spec.layer_dirs}
        return sorted(dirs)

    # -- environment and moto config -------------------------------------------------------

    def _apply_environment(self, port: int, standin_port: int, moto_port: int) -> None:
        assert self.model is not None
        union, conflicts = self.model.union_environment()
        if conflicts and self.log:
            self.log(f"warning: functions disagree on {', '.join(conflicts)}; the last one wins locally")
        self._saved_environ = dict(os.environ)
        env = local_environment(
            union,
            host=HOST,
            port=port,
            standin_port=standin_port,
            moto_port=moto_port,
            secrets_=self.secrets,
            shell=os.environ,
            overrides=self._env,
            replicate_target=self.replicate,
        )
        for key, value in env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._urls = {
            "base_url": f"http://{HOST}:{port}",
            "ws_url": f"ws://{HOST}:{port}/ws",
            "standin_url": f"http://{HOST}:{standin_port}" if standin_port else None,
            "moto_url": f"http://{HOST}:{moto_port}",
        }

    def _configure_moto(self) -> None:
        """Server mode's config endpoint writes moto's `default_user_config` (in this process, or
        in moto's own); it is verified (in this process also the Step Functions part the endpoint
        does not show; moto's process sets that itself) and, in this process, restored on stop.
        Backends are reset so each start is a clean account."""
        in_process = self._moto_child is None
        if in_process:
            from moto.core.config import default_user_config

            self._saved_moto_config = {k: dict(v) for k, v in default_user_config.items()}  # type: ignore[call-overload]
        _post(f"{self.moto_url}/moto-api/reset", b"")
        _post(f"{self.moto_url}/moto-api/config", json.dumps(MOTO_CONFIG).encode())
        served = json.loads(urllib.request.urlopen(f"{self.moto_url}/moto-api/config", timeout=5).read())  # noqa: S310
        executes = not in_process or default_user_config.get("stepfunctions", {}).get("execute_state_machine")
        if served.get("lambda", {}).get("use_docker") is not False or not executes:
            raise RuntimeError(f"moto did not take the local config: {served}")

    def _restore(self) -> None:
        if self._saved_moto_config is not None:
            from moto.core.config import default_user_config

            default_user_config.update(self._saved_moto_config)  # type: ignore[typeddict-item]
            self._saved_moto_config = None
        if self._saved_environ is not None:
            for key in list(os.environ):
                if key not in self._saved_environ:
                    del os.environ[key]
            os.environ.update(self._saved_environ)
            self._saved_environ = None
        if self._saved_sys_path is not None:
            sys.path[:] = self._saved_sys_path
            self._saved_sys_path = None

    def _stop_executions(self, budget_s: float = 1.5) -> None:
        """Ask running executions to stop so their threads wind down (best effort, bounded)."""
        if not self.resources or not self.resources.state_machines:
            return
        from botocore.config import Config

        deadline = time.monotonic() + budget_s
        try:
            quick = Config(connect_timeout=0.5, read_timeout=0.5, retries={"max_attempts": 0})
            sfn = self.client("stepfunctions", config=quick)
            for arn in self.resources.state_machines.values():
                pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING")
                for page in pages:
                    for execution in page["executions"]:
                        if time.monotonic() > deadline:
                            return
                        sfn.stop_execution(executionArn=execution["executionArn"], cause="local stack stopped")
        except Exception as exc:
            if self.log:
                self.log(f"stopping executions: {exc}")

    def _child_exited(self, name: str, returncode: int) -> None:
        """A child process ended while the stack runs: reported on stderr (also when quiet) and
        kept in `failure` (`python -m local_stack` then stops with exit code 1)."""
        self.failure = f"{name} exited with code {returncode}"
        print(f"local stack: {self.failure}; its output is above", file=sys.stderr, flush=True)

    def _function_error(self, logical_id: str, exc: BaseException) -> None:
        if self.log:
            self.log(f"{logical_id} raised {type(exc).__name__}: {exc}")
            traceback.print_exception(exc)

    # -- public properties -----------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    @property
    def base_url(self) -> str:
        return self._urls["base_url"]

    @property
    def ws_url(self) -> str:
        return self._urls["ws_url"]

    @property
    def standin_url(self) -> str | None:
        return self._urls["standin_url"]

    @property
    def moto_url(self) -> str:
        return self._urls["moto_url"]

    @property
    def local_origins(self) -> list[str]:
        port = self.base_url.rsplit(":", 1)[1]
        return [self.base_url, f"http://localhost:{port}"]

    @property
    def standin(self) -> Any:
        """The stand-in's store (`app.state.standin`); None when it runs in its own process."""
        return None if self._standin_app is None else self._standin_app.state.standin

    @property
    def pids(self) -> dict[str, int]:
        """The stack's processes: this one, and the stand-in's when it has its own."""
        pids = {"stack": os.getpid()}
        for name, child in (("standin", self._standin_child), ("moto", self._moto_child)):
            if child is not None and child.pid is not None:
                pids[name] = child.pid
        return pids

    @property
    def urls(self) -> dict[str, Any]:
        return {
            "page": f"{self.base_url}/",
            "api": f"{self.base_url}/api",
            **self._urls,
            "replicate": self.replicate,
        }

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client on the local moto server."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            **kwargs,
        )

    def invoke(self, logical_id: str, event: Any) -> Any:
        """Invoke a function in-process as Lambda would (JSON in, JSON out)."""
        assert self.functions is not None, "start() first"
        return self.functions.invoke(logical_id, event)


def _create_standin_app() -> Any:
    from replicate_standin.app import create_app
    from replicate_standin.settings import StandinSettings

    return create_app(StandinSettings.from_env())


def _post(url: str, body: bytes) -> bytes:
    headers = {"content-type": "application/json"}
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - local moto
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local moto
        return response.read()
