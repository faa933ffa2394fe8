"""`batches` (the list) and `batch create`'s estimate and confirmation, against the in-memory API."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from cli_testkit import PRESETS, FakeApi
from PIL import Image

from marketplace_cli.__main__ import main, parse_args

pytestmark = pytest.mark.unit


class Terminal(io.StringIO):
    """stdin on a terminal, with what the user types."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARKETPLACE_API_URL", raising=False)
    monkeypatch.delenv("MARKETPLACE_TOKEN", raising=False)
    monkeypatch.delenv("MARKETPLACE_CONFIRM_OVER_USD", raising=False)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr("marketplace_cli.__main__.ApiClient", lambda *a, **k: fake.client())
    return fake


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "car.jpg"
    Image.new("RGB", (16, 12), (0, 150, 140)).save(path, "JPEG")
    return path


def create_argv(photo: Path, *extra: str) -> list[str]:
    return ["batch", "create", "--image", str(photo), "--angles", "front_0,side_90", "--colors",
            "red_metallic,blue_metallic", *extra]


def item(batch_id: str, status: str, counts: tuple[int, int, int, int], billed: int, cost: float) -> dict[str, Any]:
    completed, failed, canceled, pending = counts
    return {"batchId": batch_id, "createdAt": "2026-01-02T03:04:05.678Z", "status": status,
            "counts": {"completed": completed, "failed": failed, "canceled": canceled, "pending": pending},
            "thumbUrl": None, "cost": {"predictions": billed + failed, "billedImages": billed, "costUsd": cost}}


# -- batch create: the estimate ------------------------------------------------------------------


def test_given_a_small_batch_when_created_then_the_estimate_is_printed_and_it_is_created_without_asking(
        api, photo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal: it must not be needed
    assert main(create_argv(photo)) == 0
    captured = capsys.readouterr()
    assert "Estimate: 6 images, $0.23 at $0.039 per image" in captured.err
    assert captured.out.strip() == "batch-1"  # stdout stays the batch id for scripts
    assert len(api.created) == 1


def test_given_no_colours_run_with_the_batch_when_created_then_the_estimate_counts_the_angles_only(
        api, photo, capsys):
    assert main([*create_argv(photo), "--no-auto-colorize"]) == 0
    assert "Estimate: 2 images, $0.08" in capsys.readouterr().err


def test_given_an_estimate_over_the_threshold_and_no_terminal_when_creating_then_it_refuses_without_waiting(
        api, photo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped input is not a confirmation
    assert main([*create_argv(photo), "--confirm-over", "0.10"]) == 1
    err = capsys.readouterr().err
    assert "the estimate ($0.23) is over $0.10" in err and "--yes" in err
    assert api.created == [] and api.puts == []  # nothing uploaded, nothing created


def test_given_an_estimate_over_the_threshold_on_a_terminal_when_the_user_says_yes_then_it_is_created(
        api, photo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    assert main([*create_argv(photo), "--confirm-over", "0.10"]) == 0
    assert "Create the batch? [y/N]" in capsys.readouterr().err
    assert len(api.created) == 1


@pytest.mark.parametrize("typed", ["\n", "n\n", "nope\n", ""])
def test_given_an_estimate_over_the_threshold_on_a_terminal_when_the_user_does_not_say_yes_then_nothing_is_created(
        api, photo, monkeypatch, capsys, typed):
    monkeypatch.setattr("sys.stdin", Terminal(typed))
    assert main([*create_argv(photo), "--confirm-over", "0.10"]) == 1
    assert "Not created." in capsys.readouterr().err
    assert api.created == [] and api.puts == []


def test_given_yes_when_the_estimate_is_over_the_threshold_then_it_is_created_without_asking(api, photo, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([*create_argv(photo), "--confirm-over", "0", "--yes"]) == 0
    err = capsys.readouterr().err
    assert "Estimate: 6 images, $0.23" in err and "[y/N]" not in err
    assert len(api.created) == 1


def test_given_the_default_threshold_when_a_30_by_40_batch_is_asked_for_then_it_needs_confirming(api, photo, monkeypatch, capsys):
    api.presets = {**PRESETS, "angles": [{"angleKey": f"a{i}", "angleLabel": "A", "angleDesc": "", "order": i}
                                         for i in range(30)]}
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    argv = ["batch", "create", "--image", str(photo), "--angles", ",".join(f"a{i}" for i in range(30)),
            "--colors", ",".join(f"c{i}" for i in range(40))]
    assert main(argv) == 1
    assert "Estimate: 1230 images, $47.97" in capsys.readouterr().err and api.created == []


def test_given_a_threshold_in_the_environment_when_parsed_then_it_is_used_and_the_flag_wins(monkeypatch):
    argv = ["batch", "create", "--image", "a.jpg", "--angles", "front_0"]
    assert parse_args(argv).confirm_over == 5.0
    monkeypatch.setenv("MARKETPLACE_CONFIRM_OVER_USD", "20")
    assert parse_args(argv).confirm_over == 20.0
    assert parse_args([*argv, "--confirm-over", "1.5"]).confirm_over == 1.5


@pytest.mark.parametrize("argv_extra", [["--confirm-over", "-1"], ["--confirm-over", "inf"], ["--confirm-over", "x"]])
def test_given_a_bad_threshold_when_parsed_then_usage_error_exit_1(argv_extra, capsys):
    with pytest.raises(SystemExit) as stop:
        parse_args(["batch", "create", "--image", "a.jpg", "--angles", "front_0", *argv_extra])
    assert stop.value.code == 1


def test_given_a_server_without_a_price_when_creating_then_the_image_count_is_printed_and_nothing_is_asked(
        api, photo, monkeypatch, capsys):
    api.presets = {k: v for k, v in PRESETS.items() if k != "pricing"}
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main([*create_argv(photo), "--confirm-over", "0"]) == 0
    assert "Estimate: 6 images (this server publishes no price)" in capsys.readouterr().err


# -- batches: the list ---------------------------------------------------------------------------


def test_given_no_batches_when_listed_then_it_says_so(api, capsys):
    assert main(["batches"]) == 0
    assert capsys.readouterr().out.strip() == "No batches yet."


def test_given_batches_when_listed_then_one_line_each_newest_first_with_status_counts_and_cost(api, capsys):
    api.batch_pages = {None: {"items": [item("b-new", "running", (2, 1, 0, 3), 2, 0.08),
                                        item("b-old", "completed_with_failures", (5, 1, 0, 0), 7, 0.27)],
                              "nextToken": None}}
    assert main(["batches"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["batch", "created", "status", "completed", "failed", "canceled", "pending", "cost"]
    assert lines[1].split() == ["b-new", "2026-01-02", "03:04:05", "running", "2", "1", "0", "3", "$0.08", "(2", "images)"]
    assert lines[2].split()[:4] == ["b-old", "2026-01-02", "03:04:05", "completed_with_failures"]
    assert lines[2].endswith("$0.27 (7 images)")


def test_given_more_pages_when_listed_then_the_next_token_is_printed_and_fetches_the_next_page(api, capsys):
    api.batch_pages = {None: {"items": [item("b-2", "running", (0, 0, 0, 6), 0, 0.0)], "nextToken": "tok-1"},
                       "tok-1": {"items": [item("b-1", "canceled", (1, 0, 5, 0), 1, 0.04)], "nextToken": None}}
    assert main(["batches", "--limit", "1"]) == 0
    assert "More: --next-token tok-1" in capsys.readouterr().out
    assert main(["batches", "--limit", "1", "--next-token", "tok-1"]) == 0
    out = capsys.readouterr().out
    assert "b-1" in out and "canceled" in out and "More:" not in out
    sent = [r.url.params for r in api.requests if r.url.path.endswith("/batches")]
    assert [(p.get("limit"), p.get("nextToken")) for p in sent] == [("1", None), ("1", "tok-1")]


def test_given_json_when_listed_then_the_page_is_printed_as_is(api, capsys):
    page = {"items": [item("b-1", "failed", (0, 2, 0, 0), 0, 0.0)], "nextToken": None}
    api.batch_pages = {None: page}
    assert main(["batches", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == page


@pytest.mark.parametrize("limit", ["0", "51"])
def test_given_a_limit_out_of_range_when_parsed_then_usage_error_exit_1(limit):
    with pytest.raises(SystemExit) as stop:
        parse_args(["batches", "--limit", limit])
    assert stop.value.code == 1
