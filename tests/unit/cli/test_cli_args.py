"""Argument parsing: global options anywhere, environment defaults, comma lists, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest

from marketplace_cli.__main__ import csv_list, parse_args

pytestmark = pytest.mark.unit


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MARKETPLACE_API_URL", raising=False)
    monkeypatch.delenv("MARKETPLACE_TOKEN", raising=False)


def test_csv_list() -> None:
    assert csv_list("a, b,,c ,") == ["a", "b", "c"]
    assert csv_list("") == []


def test_defaults() -> None:
    args = parse_args(["presets"])
    assert (args.api_url, args.token, args.user, args.json) == ("http://127.0.0.1:3000", None, None, False)


def test_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MARKETPLACE_API_URL", "https://api.example.test")
    monkeypatch.setenv("MARKETPLACE_TOKEN", "tok")
    args = parse_args(["presets"])
    assert (args.api_url, args.token) == ("https://api.example.test", "tok")
    assert parse_args(["--api-url", "http://x", "--token", "t2", "presets"]).token == "t2"


@pytest.mark.parametrize(
    "argv",
    [
        ["--json", "--user", "alice", "--api-url", "http://h:1", "batch", "watch", "B1"],
        ["batch", "watch", "B1", "--json", "--user", "alice", "--api-url", "http://h:1"],
        ["batch", "--json", "watch", "B1", "--user", "alice", "--api-url", "http://h:1"],
    ],
)
def test_global_options_before_or_after_the_command(argv: list[str]) -> None:
    args = parse_args(argv)
    assert (args.json, args.user, args.api_url, args.batch_id, args.timeout) == (True, "alice", "http://h:1", "B1", 600.0)


def test_batch_create() -> None:
    args = parse_args(
        [
            "batch",
            "create",
            "--image",
            "a.jpg",
            "b.png",
            "--image",
            "c.heic",
            "--angles",
            "front_0,side_90",
            "--colors",
            "red_metallic, blue_metallic",
            "--no-auto-colorize",
            "--watch",
            "--idempotency-key",
            "k1",
            "--timeout",
            "30",
        ]
    )
    assert args.images == ["a.jpg", "b.png", "c.heic"]
    assert args.angles == ["front_0", "side_90"]
    assert args.colors == ["red_metallic", "blue_metallic"]
    assert (args.auto_colorize, args.watch, args.idempotency_key, args.timeout) == (False, True, "k1", 30.0)


def test_batch_create_defaults() -> None:
    args = parse_args(["batch", "create", "--image", "a.jpg", "--angles", "front_0"])
    assert (args.colors, args.auto_colorize, args.watch, args.idempotency_key) == ([], True, False, None)


def test_colorize_download_demo() -> None:
    colorize = parse_args(["batch", "colorize", "B", "--colors", "black_gloss", "--angles", "side_90", "--watch"])
    assert (colorize.batch_id, colorize.colors, colorize.angles, colorize.watch) == ("B", ["black_gloss"], ["side_90"], True)
    assert parse_args(["batch", "colorize", "B", "--colors", "x"]).angles is None
    download = parse_args(["batch", "download", "B", "--out", "somewhere"])
    assert download.out == Path("somewhere")
    assert parse_args(["batch", "download", "B"]).out is None
    demo = parse_args(["demo", "--out", "/tmp/x"])
    assert (demo.command, demo.out, demo.timeout) == ("demo", Path("/tmp/x"), 600.0)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["batch"],
        ["batch", "create", "--angles", "front_0"],  # no --image
        ["batch", "create", "--image", "a.jpg"],  # no --angles
        ["batch", "create", "--image", "a.jpg", "--angles", " , "],  # empty --angles
        ["batch", "colorize", "B", "--colors", ""],
        ["batch", "watch"],
        ["batch", "watch", "B", "--timeout", "soon"],
        ["unknown"],
    ],
)
def test_usage_errors_exit_1(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_args(argv)
    assert caught.value.code == 1  # 2 is reserved for "some cell failed"
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        parse_args(["--help"])
    assert caught.value.code == 0
    assert "demo" in capsys.readouterr().out
