"""`python -m marketplace_cli`: the Car Marketplace from the command line.

Exit codes: 0 success (every cell completed), 2 some cell failed, 1 any other error
(bad arguments, unreadable or unsupported files, API or network errors, timeouts), 130 Ctrl-C.
Messages go to stdout, diagnostics to stderr; `--json` prints one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, TextIO

from marketplace import pricing

from .client import ApiClient, ApiError, default_api_url
from .download import DownloadResult, download_batch
from .files import FileRejected
from .flows import colorize_batch, create_batch, retry_batch
from .watch import SilentReporter, TextReporter, WatchError, WatchState, cell_name, exit_code, summary, watch_batch

EXIT_OK, EXIT_ERROR, EXIT_FAILED_CELLS = 0, 1, 2
DEFAULT_CONFIRM_OVER_USD = 5.0  # `batch create` asks before spending more than this
MAX_BATCHES_PAGE = 50


class Parser(argparse.ArgumentParser):
    """Usage errors exit 1 (2 means "some cell failed")."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def csv_list(value: str) -> list[str]:
    """`a, b,,c` → `["a", "b", "c"]` (order kept, blanks dropped)."""
    return [part.strip() for part in value.split(",") if part.strip()]


def cell_ref(value: str) -> tuple[str, str | None]:
    """``front_0`` (the angle cell) or ``front_0:red_metallic`` (a colour cell)."""
    angle, _, color = value.strip().partition(":")
    if not angle or (_ and not color):
        raise argparse.ArgumentTypeError(f"{value!r} is not ANGLE or ANGLE:COLOR")
    return angle, color or None


def _add_globals(parser: argparse.ArgumentParser, top: bool) -> None:
    """Global options, accepted before or after the command (`SUPPRESS` keeps the top-level value)."""
    default = (lambda value: value) if top else (lambda value: argparse.SUPPRESS)
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--api-url", default=default(None), help="API base URL (env MARKETPLACE_API_URL, default http://127.0.0.1:3000)"
    )
    group.add_argument("--token", default=default(None), help="bearer token (env MARKETPLACE_TOKEN)")
    group.add_argument("--user", default=default(None), help="development mode user, sent as X-Dev-User")
    group.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m marketplace_cli",
        description="Car Marketplace command-line client.",
        epilog="exit codes: 0 ok, 2 some cell failed, 1 other errors",
    )
    _add_globals(parser, top=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    commands.required = True

    presets = commands.add_parser("presets", help="list angle and colour presets")
    _add_globals(presets, top=False)

    batch = commands.add_parser("batch", help="create, watch, colourise and download batches")
    _add_globals(batch, top=False)
    batch_commands = batch.add_subparsers(dest="batch_command", metavar="ACTION", parser_class=Parser)
    batch_commands.required = True

    create = batch_commands.add_parser("create", help="upload photos and create a batch")
    create.add_argument(
        "--image",
        dest="images",
        action="extend",
        nargs="+",
        required=True,
        metavar="FILE",
        help="source photo(s): JPEG, PNG, WebP or HEIC/HEIF (repeatable)",
    )
    create.add_argument("--angles", type=csv_list, required=True, help="angle keys, comma-separated")
    create.add_argument("--colors", type=csv_list, default=[], help="colour keys, comma-separated")
    create.add_argument(
        "--no-auto-colorize",
        dest="auto_colorize",
        action="store_false",
        help="generate the angles only; colourise later with `batch colorize`",
    )
    create.add_argument("--watch", action="store_true", help="follow the batch live until it finishes")
    create.add_argument("--idempotency-key", help="sent as Idempotency-Key: a retry creates no second batch")
    create.add_argument("--timeout", type=float, default=600.0, help="seconds to watch (default 600)")
    create.add_argument("--yes", "-y", action="store_true", help="create without asking, whatever the estimate")
    create.add_argument(
        "--confirm-over",
        type=float,
        metavar="USD",
        help="ask before creating a batch estimated above this many dollars "
        f"(env MARKETPLACE_CONFIRM_OVER_USD, default {DEFAULT_CONFIRM_OVER_USD:g})",
    )
    _add_globals(create, top=False)

    watch = batch_commands.add_parser("watch", help="follow a batch live over the WebSocket")
    watch.add_argument("batch_id", metavar="ID")
    watch.add_argument("--timeout", type=float, default=600.0, help="seconds (default 600)")
    _add_globals(watch, top=False)

    colorize = batch_commands.add_parser("colorize", help="add colours to a batch's finished angles")
    colorize.add_argument("batch_id", metavar="ID")
    colorize.add_argument("--colors", type=csv_list, required=True, help="colour keys, comma-separated")
    colorize.add_argument("--angles", type=csv_list, default=None, help="only these angles (default: all)")
    colorize.add_argument("--watch", action="store_true", help="follow the batch live until it finishes")
    colorize.add_argument("--timeout", type=float, default=600.0, help="seconds to watch (default 600)")
    _add_globals(colorize, top=False)

    retry = batch_commands.add_parser("retry", help="run cells again: failed and canceled ones, or the ones named "
                                                    "(a completed one is regenerated)")
    retry.add_argument("batch_id", metavar="ID")
    retry.add_argument("--cell", dest="cells", type=cell_ref, action="append", default=None, metavar="ANGLE[:COLOR]",
                       help="a cell to run again (repeatable); default: every failed or canceled cell")
    retry.add_argument("--watch", action="store_true", help="follow the batch live until it finishes")
    retry.add_argument("--timeout", type=float, default=600.0, help="seconds to watch (default 600)")
    _add_globals(retry, top=False)

    cancel = batch_commands.add_parser("cancel", help="stop a running batch (finished images stay)")
    cancel.add_argument("batch_id", metavar="ID")
    _add_globals(cancel, top=False)

    download = batch_commands.add_parser("download", help="save images, manifest.json and matrix.png")
    download.add_argument("batch_id", metavar="ID")
    download.add_argument("--out", type=Path, help="directory (default out/<batchId>/)")
    _add_globals(download, top=False)

    batches = commands.add_parser("batches", help="list your batches, newest first, with status, counts and cost")
    batches.add_argument("--limit", type=int, default=20, help=f"batches per page, 1-{MAX_BATCHES_PAGE} (default 20)")
    batches.add_argument("--next-token", help="print the page after the one that showed this token")
    _add_globals(batches, top=False)

    archive = batch_commands.add_parser("archive", help="build the batch's ZIP (images, matrix.png, manifest.json) and save it")
    archive.add_argument("batch_id", metavar="ID")
    archive.add_argument("--out", type=Path, help="file (default out/batch-<batchId>.zip)")
    archive.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the build (default 900)")
    _add_globals(archive, top=False)

    demo = commands.add_parser("demo", help="run the whole product locally on sample photos (make demo)")
    demo.add_argument("--out", type=Path, help="directory for the results (default out/<batchId>/)")
    demo.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the batch (default 600)")
    _add_globals(demo, top=False)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    args = build_parser().parse_args(argv)
    args.api_url = args.api_url or default_api_url()
    args.token = args.token or os.environ.get("MARKETPLACE_TOKEN") or None
    action = getattr(args, "batch_command", None)
    if action == "create" and not args.angles:
        build_parser().error("--angles needs at least one angle key")
    if action == "colorize" and not args.colors:
        build_parser().error("--colors needs at least one colour key")
    if action == "create":
        args.confirm_over = _confirm_over(args.confirm_over)
    if args.command == "batches" and not 1 <= args.limit <= MAX_BATCHES_PAGE:
        build_parser().error(f"--limit must be between 1 and {MAX_BATCHES_PAGE}")
    return args


def _confirm_over(flag: float | None) -> float:
    """The confirmation threshold: the flag, else MARKETPLACE_CONFIRM_OVER_USD, else $5."""
    raw = os.environ.get("MARKETPLACE_CONFIRM_OVER_USD", "").strip()
    try:
        value = flag if flag is not None else float(raw) if raw else DEFAULT_CONFIRM_OVER_USD
    except ValueError:
        build_parser().error(f"MARKETPLACE_CONFIRM_OVER_USD is not a number: {raw!r}")
    if not 0 <= value < float("inf"):
        build_parser().error("--confirm-over must be a number of dollars, 0 or more")
    return value


# -- output helpers --------------------------------------------------------------------------


def emit_json(data: Any, stream: TextIO | None = None) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False), file=stream or sys.stdout, flush=True)


def info(text: str = "") -> None:
    print(text, flush=True)


def diag(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def presets_table(presets: dict[str, Any]) -> str:
    angles = presets.get("angles") or []
    colors = presets.get("colors") or []
    lines = [f"Angles ({len(angles)})"]
    kw = max([len("key")] + [len(str(a.get("angleKey"))) for a in angles])
    lw = max([len("label")] + [len(str(a.get("angleLabel"))) for a in angles])
    lines.append(f"  {'key':<{kw}}  {'label':<{lw}}  order")
    for angle in angles:
        order = angle.get("order")
        lines.append(f"  {angle.get('angleKey'):<{kw}}  {angle.get('angleLabel'):<{lw}}  {'' if order is None else order}")
    lines.append("")
    lines.append(f"Colours ({len(colors)})")
    kw = max([len("key")] + [len(str(c.get("colorKey"))) for c in colors])
    lw = max([len("label")] + [len(str(c.get("colorLabel"))) for c in colors])
    lines.append(f"  {'key':<{kw}}  {'label':<{lw}}  prompt value")
    for color in colors:
        lines.append(f"  {color.get('colorKey'):<{kw}}  {color.get('colorLabel'):<{lw}}  {color.get('promptValue')}")
    return "\n".join(lines)


def money(usd: float) -> str:
    return f"${usd:,.2f}"


def batches_table(items: list[dict[str, Any]]) -> str:
    """One line per batch: id, creation time, status, counts and what it cost."""
    if not items:
        return "No batches yet."
    header = ("batch", "created", "status", "completed", "failed", "canceled", "pending", "cost")
    rows: list[tuple[str, ...]] = [header]
    for item in items:
        counts = item.get("counts") or {}
        cost = item.get("cost") or {}
        rows.append((
            str(item.get("batchId")),
            str(item.get("createdAt") or "")[:19].replace("T", " "),
            str(item.get("status")),
            *(str(counts.get(name, 0)) for name in ("completed", "failed", "canceled", "pending")),
            f"{money(float(cost.get('costUsd') or 0))} ({cost.get('billedImages', 0)} images)",
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows)


def confirm_estimate(api: ApiClient, args: argparse.Namespace, stdin: TextIO | None = None) -> bool:
    """Before anything is uploaded: what the batch will cost (GET /presets' price), and, over the
    threshold, a question on a terminal, or a refusal when there is none to ask on (never hangs).
    `--yes` skips the question. On stderr: stdout stays the batch id (or the JSON document)."""
    images = pricing.batch_images(len(args.angles), len(args.colors), args.auto_colorize)
    price = (api.presets().get("pricing") or {}).get("pricePerImageUsd")
    if not isinstance(price, int | float):
        diag(f"Estimate: {images} images (this server publishes no price)")
        return True
    cost = pricing.cost_usd(images, float(price))
    diag(f"Estimate: {images} images, {money(cost)} at ${price:g} per image (images that fail are not billed)")
    if args.yes or cost <= args.confirm_over:
        return True
    over = f"the estimate ({money(cost)}) is over {money(args.confirm_over)}"
    stream = sys.stdin if stdin is None else stdin
    if stream is None or not stream.isatty():
        diag(f"error: {over} and there is no terminal to confirm on; nothing was created (add --yes to create it)")
        return False
    print(f"{over[0].upper()}{over[1:]}. Create the batch? [y/N] ", end="", file=sys.stderr, flush=True)
    if stream.readline().strip().lower() in ("y", "yes"):
        return True
    diag("Not created.")
    return False


def report_end(state: WatchState, as_json: bool) -> int:
    code = exit_code(state)
    if as_json:
        emit_json({**summary(state), "exitCode": code})
        return code
    failed = state.failed_cells
    if failed:
        diag(f"{len(failed)} of {state.total_jobs} cells failed:")
        for cell in failed:
            diag(f"  {cell.name}: {cell.error or 'no reason given'}")
    elif code == EXIT_OK:
        info(f"All {state.completed_count} cells of batch {state.batch_id} completed.")
    else:
        pending = ", ".join(c.name for c in state.pending_cells)
        diag(f"batch {state.batch_id} is not finished{': ' + pending if pending else ''}")
    return code


def _reporter(args: argparse.Namespace) -> TextReporter | SilentReporter:
    return SilentReporter() if args.json else TextReporter(sys.stdout)


# -- commands --------------------------------------------------------------------------------


def cmd_presets(api: ApiClient, args: argparse.Namespace) -> int:
    presets = api.presets()
    if args.json:
        emit_json(presets)
    else:
        info(presets_table(presets))
    return EXIT_OK


def cmd_batches(api: ApiClient, args: argparse.Namespace) -> int:
    page = api.list_batches(args.limit, args.next_token)
    if args.json:
        emit_json(page)
        return EXIT_OK
    info(batches_table(list(page.get("items") or [])))
    if page.get("nextToken"):
        info(f"More: --next-token {page['nextToken']}")
    return EXIT_OK


def cmd_create(api: ApiClient, args: argparse.Namespace) -> int:
    if not confirm_estimate(api, args):
        return EXIT_ERROR

    def created(batch: dict[str, Any]) -> None:
        if args.json:
            return
        info(f"{batch['batchId']}" if not args.watch else f"Batch {batch['batchId']} created: {batch.get('totalJobs')} jobs")

    outcome = create_batch(
        api,
        args.images,
        args.angles,
        args.colors,
        auto_colorize=args.auto_colorize,
        idempotency_key=args.idempotency_key,
        watch=args.watch,
        reporter=_reporter(args),
        timeout=args.timeout,
        log=(lambda _m: None) if args.json else diag,
        on_created=created,
    )
    if outcome.state is None:
        if args.json:
            emit_json(outcome.batch)
        return EXIT_OK
    if args.json:
        emit_json({**summary(outcome.state), "exitCode": exit_code(outcome.state)})
        return exit_code(outcome.state)
    return report_end(outcome.state, False)


def cmd_watch(api: ApiClient, args: argparse.Namespace) -> int:
    if not args.json:
        info(f"Following batch {args.batch_id} (Ctrl-C to stop)")
    state = watch_batch(api, args.batch_id, reporter=_reporter(args), timeout=args.timeout)
    return report_end(state, args.json)


def cmd_colorize(api: ApiClient, args: argparse.Namespace) -> int:
    answer, state = colorize_batch(
        api, args.batch_id, args.colors, args.angles, watch=args.watch, reporter=_reporter(args), timeout=args.timeout
    )
    if state is None:
        if args.json:
            emit_json(answer)
        else:
            info(
                f"Batch {answer.get('batchId')}: {answer.get('createdJobs', '?')} colour jobs added, "
                f"{answer.get('totalJobs')} in total"
            )
        return EXIT_OK
    return report_end(state, args.json)


def cmd_retry(api: ApiClient, args: argparse.Namespace) -> int:
    answer, state = retry_batch(api, args.batch_id, args.cells, watch=args.watch, reporter=_reporter(args),
                                timeout=args.timeout)
    if state is None:
        if args.json:
            emit_json(answer)
        else:
            estimate = answer.get("estimate") or {}
            cost = f", about {money(float(estimate['costUsd']))}" if "costUsd" in estimate else ""
            info(f"Batch {answer.get('batchId')}: {len(answer.get('retried') or [])} cells running again{cost}")
        return EXIT_OK
    return report_end(state, args.json)


def cmd_cancel(api: ApiClient, args: argparse.Namespace) -> int:
    answer = api.cancel(args.batch_id)
    if args.json:
        emit_json(answer)
    else:
        info(f"Batch {answer.get('batchId')} canceled: {answer.get('canceled', 0)} cells stopped")
    return EXIT_OK


def print_download(result: DownloadResult, as_json: bool) -> int:
    code = result.exit_code()
    if as_json:
        manifest = json.loads(result.manifest_path.read_text())
        emit_json(
            {
                "out": str(result.out_dir),
                "matrix": str(result.matrix_path),
                "manifest": str(result.manifest_path),
                **manifest,
                "exitCode": code,
            }
        )
        return code
    info(f"{len(result.files)} images, matrix.png and manifest.json in {result.out_dir}/")
    for cell in result.failed:
        diag(f"  failed: {cell_name(cell.angleKey, cell.colorKey)}: {cell.error or 'no reason given'}")
    for cell in result.unfinished:
        diag(f"  not finished: {cell_name(cell.angleKey, cell.colorKey)} ({cell.status})")
    return code


def cmd_download(api: ApiClient, args: argparse.Namespace) -> int:
    result = download_batch(api, args.batch_id, args.out, log=diag)
    return print_download(result, args.json)


def cmd_archive(api: ApiClient, args: argparse.Namespace) -> int:
    from .archive import fetch_archive

    result = fetch_archive(api, args.batch_id, args.out, timeout=args.timeout, log=None if args.json else diag)
    if args.json:
        emit_json({"out": str(result.path), "bytes": result.bytes, "images": result.images, "exitCode": EXIT_OK})
    else:
        info(f"{result.images} images, matrix.png and manifest.json in {result.path} ({result.bytes:,} bytes)")
    return EXIT_OK


COMMANDS = {
    ("presets", None): cmd_presets,
    ("batches", None): cmd_batches,
    ("batch", "create"): cmd_create,
    ("batch", "watch"): cmd_watch,
    ("batch", "colorize"): cmd_colorize,
    ("batch", "retry"): cmd_retry,
    ("batch", "cancel"): cmd_cancel,
    ("batch", "download"): cmd_download,
    ("batch", "archive"): cmd_archive,
}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "demo":
            from .demo import run_demo

            return run_demo(args.out, user=args.user, timeout=args.timeout, json_output=args.json)
        handler = COMMANDS[(args.command, getattr(args, "batch_command", None))]
        with ApiClient(args.api_url, token=args.token, user=args.user) as api:
            return handler(api, args)
    except (ApiError, WatchError, FileRejected) as exc:
        diag(f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        diag("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
