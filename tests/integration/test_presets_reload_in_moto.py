"""CSV proof: a sheet edit reaches the next batch (after the cache), never a running one."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.csv_server import serve_folder
from tests.support.e2e_client import E2EClient, jpeg_bytes
from tests.support.inprocess_stack import stack_in_process

pytestmark = pytest.mark.integration
CACHE_SECONDS = 1


@pytest.fixture(scope="module")
def sheets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    import shutil

    folder = tmp_path_factory.mktemp("sheets")
    for name in ("global_prompts.csv", "angle_presets.csv", "color_presets.csv"):
        shutil.copy(Path(__file__).resolve().parents[2] / "samples" / "presets" / name, folder / name)
    with serve_folder(folder) as url:
        yield folder, url


@pytest.fixture(scope="module")
def stack(sheets: tuple[Path, str]) -> Iterator[Any]:
    _, url = sheets
    with stack_in_process({
        "STANDIN_LATENCY_SECONDS": "1.5", "PRESETS_CACHE_SECONDS": str(CACHE_SECONDS),
        "GLOBAL_PROMPTS_CSV_URL": f"{url}/global_prompts.csv", "ANGLE_PRESETS_CSV_URL": f"{url}/angle_presets.csv",
        "COLOR_PRESETS_CSV_URL": f"{url}/color_presets.csv", "POWERTOOLS_LOG_LEVEL": "WARNING"},
        schedule_seconds=3600,
    ) as local:
        yield local


def _set_red_prompt_value(folder: Path, value: str) -> None:
    path = folder / "color_presets.csv"
    rows = list(csv.reader(path.open()))
    for row in rows:
        if row and row[0] == "red_metallic":
            row[2] = value
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def _colour_prompts(stack: Any, batch_id: str) -> list[str]:
    return [p["input"]["prompt"] for p in stack.standin.list_predictions()
            if f"batchId={batch_id}" in (p.get("webhook") or "") and "colorKey=red_metallic" in p["webhook"]]


def test_given_a_running_batch_when_the_sheet_changes_then_it_keeps_its_wording_and_the_next_batch_takes_the_new(
    stack: Any, sheets: tuple[Path, str]
) -> None:
    folder, _ = sheets
    client = E2EClient(stack.base_url, user="csv-proof")
    sources = client.upload([jpeg_bytes(1)])
    running = client.create_batch(sources, ["front_0"], ["red_metallic"])["batchId"]

    # Edited while the first batch's angle is still being generated (latency 1.5 s).
    _set_red_prompt_value(folder, "Crimson Fire #A00010 (candy metallic)")
    time.sleep(CACHE_SECONDS + 0.2)
    later = client.create_batch(sources, ["side_90"], ["red_metallic"])["batchId"]
    client.wait_completed(running, timeout=60)
    client.wait_completed(later, timeout=60)

    old_prompts, new_prompts = _colour_prompts(stack, running), _colour_prompts(stack, later)
    assert len(old_prompts) == 1 and "Red #C00000 (metallic)" in old_prompts[0] and "Crimson" not in old_prompts[0]
    assert len(new_prompts) == 1 and "Crimson Fire #A00010 (candy metallic)" in new_prompts[0]
    presets = client.call("GET", "/api/car/marketplace/presets").json()
    assert next(c for c in presets["colors"] if c["colorKey"] == "red_metallic")["promptValue"].startswith("Crimson")
    client.close()


def test_given_an_edited_sheet_when_colourising_later_then_the_new_wording_is_used(stack: Any, sheets: tuple[Path, str]):
    folder, _ = sheets
    client = E2EClient(stack.base_url, user="csv-proof-2")
    sources = client.upload([jpeg_bytes(2)])
    batch_id = client.create_batch(sources, ["front_0"], [], auto=False)["batchId"]
    client.wait_completed(batch_id, timeout=60)
    _set_red_prompt_value(folder, "Ruby Dusk #9B111E (pearl)")
    time.sleep(CACHE_SECONDS + 0.2)
    answer = client.call("POST", f"/api/car/marketplace/batch/{batch_id}/colorize", json={"colors": ["red_metallic"]})
    assert answer.status_code == 202
    client.wait_completed(batch_id, timeout=60)
    prompts = _colour_prompts(stack, batch_id)
    assert len(prompts) == 1 and "Ruby Dusk #9B111E (pearl)" in prompts[0]
    client.close()
