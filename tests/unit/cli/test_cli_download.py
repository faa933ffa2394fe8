"""batch download: files, manifest.json and matrix.png from a snapshot."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from cli_testkit import BASE, FakeApi, png_bytes, result, snapshot
from PIL import Image

from marketplace.archive import contact_sheet
from marketplace_cli.__main__ import main
from marketplace_cli.download import cell_filename, download_batch, safe_part

pytestmark = pytest.mark.unit

B = "batch-1"


def stocked_api() -> FakeApi:
    api = FakeApi()
    cells = []
    for angle in ("front_0", "side_90"):
        for color in (None, "red_metallic", "blue_metallic"):
            path = f"/bucket/batches/{B}/{angle}/{color or 'angle'}.png"
            if (angle, color) == ("side_90", "blue_metallic"):
                cells.append(result(angle, color, "failed", error="PredictionFailed: NSFW"))
                continue
            api.images[path] = png_bytes((len(cells) * 30, 100, 50), (80, 60))
            cells.append(result(angle, color, "completed", imageUrl=f"http://s3.fake{path}?X-Amz-Signature=s"))
    api.snapshots = [snapshot(B, cells, status="completed")]
    return api


def test_download_writes_files_manifest_and_matrix(tmp_path: Path) -> None:
    api = stocked_api()
    out = tmp_path / "out"
    got = download_batch(api.client(), B, out)

    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "front_0.png",
            "front_0__red_metallic.png",
            "front_0__blue_metallic.png",
            "side_90.png",
            "side_90__red_metallic.png",
            "manifest.json",
            "matrix.png",
        ]
    )
    # bytes exactly as stored
    assert (out / "front_0.png").read_bytes() == api.images[f"/bucket/batches/{B}/front_0/angle.png"]

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["batchId"] == B
    assert manifest["createdAt"] == "2026-01-02T03:04:05.678Z"
    assert manifest["angles"] == ["front_0", "side_90"]
    assert manifest["colors"] == ["red_metallic", "blue_metallic"]
    assert (manifest["completedJobs"], manifest["failedJobs"], manifest["matrix"]) == (5, 1, "matrix.png")
    cells = manifest["cells"]
    assert [(c["angleKey"], c["colorKey"]) for c in cells] == [
        ("front_0", None),
        ("front_0", "red_metallic"),
        ("front_0", "blue_metallic"),
        ("side_90", None),
        ("side_90", "red_metallic"),
        ("side_90", "blue_metallic"),
    ]
    first = cells[0]
    assert set(first) == {"type", "angleKey", "colorKey", "status", "file", "sha256", "width", "height", "error"}
    assert (first["type"], first["status"], first["file"], first["width"], first["height"]) == (
        "angle",
        "completed",
        "front_0.png",
        80,
        60,
    )
    assert first["sha256"] == hashlib.sha256((out / "front_0.png").read_bytes()).hexdigest()
    assert cells[1]["type"] == "color" and cells[1]["file"] == "front_0__red_metallic.png"
    failed = cells[5]
    assert (failed["status"], failed["file"], failed["sha256"], failed["error"]) == (
        "failed",
        None,
        None,
        "PredictionFailed: NSFW",
    )

    matrix = Image.open(out / "matrix.png")
    assert matrix.format == "PNG" and matrix.size == contact_sheet.Layout(rows=2, columns=3).size
    assert got.exit_code() == 2 and [c.colorKey for c in got.failed] == ["blue_metallic"]
    # presigned URLs are fetched without our credentials
    fetches = [r for r in api.requests if r.url.host == "s3.fake"]
    assert len(fetches) == 5 and all("authorization" not in r.headers for r in fetches)


def test_download_failure_and_non_png_output(tmp_path: Path) -> None:
    api = FakeApi()
    jpeg = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(jpeg, "JPEG")
    api.images["/bucket/a.jpg"] = jpeg.getvalue()
    api.images["/bucket/broken.png"] = b"\x89PNG\r\n\x1a\nnot really"
    api.snapshots = [
        snapshot(
            B,
            [
                result("front_0", None, "completed", imageUrl="http://s3.fake/bucket/a.jpg"),
                result("front_0", "red_metallic", "completed", imageUrl="http://s3.fake/bucket/gone.png"),
                result("side_90", None, "completed", imageUrl="http://s3.fake/bucket/broken.png"),
                result("side_90", "red_metallic", "processing"),
            ],
            colors=["red_metallic"],
        )
    ]
    got = download_batch(api.client(), B, tmp_path)
    by_key = {(c.angleKey, c.colorKey): c for c in got.cells}
    converted = by_key[("front_0", None)]
    assert converted.file == "front_0.png" and (tmp_path / "front_0.png").read_bytes().startswith(b"\x89PNG")
    assert (converted.width, converted.height) == (40, 30)
    assert by_key[("front_0", "red_metallic")].status == "failed"
    assert "download failed: HTTP 404" in by_key[("front_0", "red_metallic")].error
    assert "not a usable image" in by_key[("side_90", None)].error
    assert by_key[("side_90", "red_metallic")].status == "processing"
    assert got.exit_code() == 2


def test_unfinished_batch_exit_code(tmp_path: Path) -> None:
    api = FakeApi()
    api.snapshots = [snapshot(B, [result("front_0", None, "queued")], colors=[])]
    assert download_batch(api.client(), B, tmp_path).exit_code() == 1


def test_presets_outage_falls_back_to_keys(tmp_path: Path) -> None:
    api = stocked_api()
    api.errors[("GET", f"{BASE}/presets")] = (503, {"error": {"code": "presets_unavailable", "message": "down"}})
    logged: list[str] = []
    got = download_batch(api.client(), B, tmp_path, log=logged.append)
    assert got.matrix_path.is_file() and "presets unavailable" in logged[0]


def test_default_directory_is_out_batch_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    got = download_batch(stocked_api().client(), B)
    assert got.out_dir == Path("out") / B and (tmp_path / "out" / B / "manifest.json").is_file()


def test_file_names() -> None:
    assert cell_filename("front_0", None) == "front_0.png"
    assert cell_filename("front_0", "red_metallic") == "front_0__red_metallic.png"
    assert safe_part("../../etc/passwd") == "_.._etc_passwd"
    assert safe_part("..") == "_"


def test_main_download_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    api = stocked_api()
    monkeypatch.setattr("marketplace_cli.__main__.ApiClient", lambda *a, **k: api.client())
    code = main(["--json", "batch", "download", B, "--out", str(tmp_path)])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and data["exitCode"] == 2 and data["batchId"] == B and len(data["cells"]) == 6


def test_main_reports_api_errors_on_stderr(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi()
    monkeypatch.setattr("marketplace_cli.__main__.ApiClient", lambda *a, **k: api.client())
    assert main(["batch", "download", "nope"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "error: HTTP 404 not_found: batch not found [batchId]" in captured.err


def test_main_presets_table(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    api = FakeApi()
    monkeypatch.setattr("marketplace_cli.__main__.ApiClient", lambda *a, **k: api.client())
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "front_0" in out and "Front (0°)" in out and "Red #C00000 (metallic)" in out
