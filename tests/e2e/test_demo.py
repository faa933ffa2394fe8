"""`python -m marketplace_cli demo`: the whole product, started by the CLI itself, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(240)
def test_demo_produces_the_matrix(tmp_path: Path) -> None:
    if not (ROOT / "local_stack" / "__main__.py").is_file():
        pytest.skip("local_stack/__main__.py does not exist yet: the demo has no stack to start")
    from marketplace.archive.contact_sheet import Layout

    out = tmp_path / "result"
    env = {**os.environ, "STANDIN_LATENCY_SECONDS": os.environ.get("STANDIN_LATENCY_SECONDS", "0.3")}
    env.pop("MARKETPLACE_API_URL", None)
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "marketplace_cli", "demo", "--out", str(out), "--timeout", "180"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=230,
        check=False,
    )
    elapsed = time.monotonic() - started
    report = f"exit {run.returncode} after {elapsed:.1f}s\n--- stdout\n{run.stdout}\n--- stderr\n{run.stderr}"
    assert run.returncode == 0, report

    pngs = sorted(p.name for p in out.glob("*.png") if p.name != "matrix.png")
    assert pngs == sorted(
        [
            "front_0.png",
            "front_0__red_metallic.png",
            "front_0__blue_metallic.png",
            "side_90.png",
            "side_90__red_metallic.png",
            "side_90__blue_metallic.png",
        ]
    ), report
    for name in pngs:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and image.width > 0

    with Image.open(out / "matrix.png") as matrix:
        assert matrix.format == "PNG"
        assert matrix.size == Layout(rows=2, columns=3).size  # 2 angles; the angle column + 2 colours

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["angles"] == ["front_0", "side_90"]
    assert manifest["colors"] == ["red_metallic", "blue_metallic"]
    cells = manifest["cells"]
    assert len(cells) == 6 and all(c["status"] == "completed" and c["file"] in pngs for c in cells), cells
    assert sum(c["type"] == "angle" for c in cells) == 2

    # The header told the user where things are, and the stack was stopped.
    assert "watch it in a browser: http://127.0.0.1:" in run.stdout
    assert "Stopping the local stack" in run.stdout
    assert "all 6 cells completed" in run.stdout
