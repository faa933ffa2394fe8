"""moto's server in its own process (its own interpreter and GIL: DynamoDB, S3 and the Step
Functions interpreter run on one core while the handlers run on the other).

`LocalStack(moto_process=True)` starts `python -m local_stack.moto_process --fd N --lifeline M
--invoke-url URL --functions A,B,…` with the socket it bound and its environment (`MOTO_PORT`,
so the ASL interpreter's clients reach this server). Here: moto's config for the stack
(Step Functions execute the definition, Lambda without Docker), every correction of
`moto_fixes`, and Lambda's Invoke of the template's functions sent to the stack's process
(`remote_lambda`). The process exits when the stack closes its lifeline or dies.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Callable, Iterator
from typing import Any

from .children import follow_lifeline, lean_malloc

MOTO_CONFIG: dict[str, dict[str, Any]] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

# moto keeps each S3 object in a SpooledTemporaryFile that stays in memory up to ~5 MB: every
# generated image of a batch (two per cell) lived in moto's RSS. Over 16 KB they go to an
# unlinked temporary file on disk (the page cache holds what is read again); thumbnails and JSON
# stay in memory. The shell's value wins.
S3_BUFFER_VARIABLE = "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE"
MOTO_PROCESS_ENV: dict[str, str] = {S3_BUFFER_VARIABLE: str(16 * 1024)}
# Each object on disk holds a file descriptor: below this many, objects stay in memory.
_FILES_FOR_SPILLING = 65536


def _more_open_files() -> int:
    """Raise the soft limit of open files to the hard one; returns the limit now in force."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        if soft != resource.RLIM_INFINITY and soft < target:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return 1 << 30 if soft == resource.RLIM_INFINITY else int(soft)
    except ImportError:
        return 0


def moto_fixes() -> tuple[Callable[[], contextlib.AbstractContextManager[None]], ...]:
    """Every correction the stack applies to moto, in order (before provisioning: creating the
    state machine parses its definition)."""
    from . import moto_dynamodb_speedups as dynamodb_speedups
    from . import moto_fixes as fixes
    from . import moto_speedups as speedups
    from . import process_speedups

    return (
        # moto restores a whole-table snapshot when a transaction is cancelled, losing other
        # threads' writes; one DynamoDB request at a time removes the race.
        fixes.serialized_moto_dynamodb,
        fixes.item_level_transaction_rollback,
        fixes.hash_key_scoped_queries,
        # Lambda's and Step Functions' payload limits and the integer ToleratedFailurePercentage.
        fixes.exact_lambda_response_limit,
        fixes.step_functions_api_limits,
        fixes.step_functions_state_payload_limit,
        fixes.integer_tolerated_failure_percentage,
        fixes.quiet_missing_path_probes,
        # Per-request overhead.
        speedups.cached_moto_module_list,
        speedups.shared_step_functions_clients,
        speedups.cached_jsonpath_parsing,
        speedups.cached_handler_methods,
        speedups.request_ids_drawn_at_once,
        process_speedups.process_speedups,
        dynamodb_speedups.direct_attribute_values,
        dynamodb_speedups.update_checks_once_at_root,
        dynamodb_speedups.parsed_update_expressions_reused,
        dynamodb_speedups.expression_walks_by_node_class,
        dynamodb_speedups.items_measured_once,
        dynamodb_speedups.expression_trees_copied_by_pickle,
        speedups.parsed_definitions_reused,
        speedups.lambda_tasks_invoke_directly,  # first: the shared threads below run it
        speedups.lambda_invokes_on_shared_threads,
    )


@contextlib.contextmanager
def applied_moto_fixes() -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for fix in moto_fixes():
            stack.enter_context(fix())
        yield


class ShortMotoLog(logging.Filter):
    """moto's ASL interpreter logs whole state trees when an execution fails: keep one line."""

    LOGGER = "moto.stepfunctions.parser"

    def __init__(self, limit: int = 300) -> None:
        super().__init__()
        self.limit = limit
        self._seen: set[str] = set()
        self.handler = logging.StreamHandler(sys.stderr)
        self.handler.setFormatter(logging.Formatter("moto sfn %(levelname)s: %(message)s"))
        self.handler.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.levelno <= logging.WARNING:  # notes such as "... have no effect": once each
            if message in self._seen:
                return False
            self._seen.add(message)
        if len(message) > self.limit:
            record.msg, record.args = message[: self.limit] + " ...", ()
        return True

    def install(self) -> None:
        logger = logging.getLogger(self.LOGGER)
        logger.addHandler(self.handler)
        logger.propagate = False

    def uninstall(self) -> None:
        logger = logging.getLogger(self.LOGGER)
        logger.removeHandler(self.handler)
        logger.propagate = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.moto_process")
    parser.add_argument("--fd", type=int, required=True, help="listening socket inherited from the stack")
    parser.add_argument("--lifeline", type=int, required=True, help="pipe whose end-of-file means: exit")
    parser.add_argument("--invoke-url", required=True, help="the stack's Lambda Invoke server")
    parser.add_argument("--functions", default="", help="comma-separated function names the stack runs")
    parser.add_argument("--log", action="store_true", help="one line per Step Functions interpreter message")
    args = parser.parse_args(argv)
    lean_malloc()
    follow_lifeline(args.lifeline)
    if _more_open_files() < _FILES_FOR_SPILLING and os.environ.get(S3_BUFFER_VARIABLE) == MOTO_PROCESS_ENV[S3_BUFFER_VARIABLE]:
        del os.environ[S3_BUFFER_VARIABLE]  # too few descriptors (e.g. macOS): objects stay in memory

    from moto.core.config import default_user_config
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from .moto_keepalive import KeepAliveHandler
    from .remote_lambda import RemoteLambdaDispatch

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    for section, values in MOTO_CONFIG.items():
        default_user_config.setdefault(section, {}).update(values)  # type: ignore[misc]
    if args.log:
        ShortMotoLog().install()
    dispatch = RemoteLambdaDispatch([name for name in args.functions.split(",") if name], args.invoke_url)
    with applied_moto_fixes():
        dispatch.install()
        app = DomainDispatcherApplication(create_backend_app)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAliveHandler, fd=args.fd)
        server.serve_forever()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
