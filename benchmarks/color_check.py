"""The colour check's cost per image, on the webhook's path (issue 14).

Every sample angle x every sample colour is painted by the stand-in (undrifted, then with the
``drift`` fault), thumbnailed as the webhook stores it, and checked against its fed angle's
thumbnail as the webhook does (``marketplace.color_check.check_color``: decode at <= 160 px, the
repainted body, its middle tones' median, CIEDE2000). Prints the time per image (wall and CPU:
median, p95, max over the repeats), the first check in a fresh interpreter (imports of Pillow and
coloraide included: what a cold Lambda pays once), and how far apart the verdicts are (the largest
"ok" and the smallest drifted ΔE against the threshold).

Also ``service.check_cell`` as the webhook runs it (the fed thumbnail read from S3, moto in-process).

Prints figures (never asserts). Goal: <= 50 ms per image (the check's bound is 1 s, its share of
the webhook's 24 s; a thumbnail's PNG check and encode take ~20 ms).
Run: .venv/bin/python benchmarks/color_check.py [repeats]
"""

from __future__ import annotations

import csv
import io
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

from marketplace.color_check import check_color  # noqa: E402
from marketplace.color_check.service import CHECK_SECONDS  # noqa: E402
from marketplace.config import Settings  # noqa: E402
from marketplace.outputs import make_thumbnail  # noqa: E402
from replicate_standin import model  # noqa: E402

GOAL_MS = 50.0
PRESETS = ROOT / "samples" / "presets"
COLD = """
import sys, time
sys.path[:0] = [{root!r}, {layer!r}]
started = time.perf_counter()
from marketplace.color_check import check_color
check_color("Red #C00000 (metallic)", open({output!r}, "rb").read(), open({fed!r}, "rb").read(), 10)
print((time.perf_counter() - started) * 1000)
"""


def rows(name: str) -> list[dict[str, str]]:
    with (PRESETS / name).open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def pictures() -> list[tuple[str, str, bool, bytes, bytes]]:
    """(angle, colour value, drifted, output thumbnail, fed thumbnail) for every pair, both ways."""
    templates = {row["key"]: row["prompt_template"] for row in rows("global_prompts.csv")}
    photos = [(path.name, path.read_bytes()) for path in sorted((ROOT / "samples" / "photos").glob("*.jpg"))]
    made = []
    for angle in rows("angle_presets.csv"):
        angle_png = model.generate(templates["angle_generation"].replace("{{ANGLE_DESC}}", angle["angle_desc"]), photos).data
        fed = make_thumbnail(angle_png)
        for colour in rows("color_presets.csv"):
            prompt = templates["colorization"].replace("{{COLOR_NAME}}", colour["prompt_value"])
            for drift in (False, True):
                out = model.generate(prompt, [("angle.png", angle_png)], drift=drift).data
                made.append((angle["angle_key"], colour["prompt_value"], drift, make_thumbnail(out), fed))
    return made


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cold_first_check(output: bytes, fed: bytes, tmp: Path) -> float:
    (tmp / "out.png").write_bytes(output)
    (tmp / "fed.png").write_bytes(fed)
    code = COLD.format(root=str(ROOT), layer=str(ROOT / "layers" / "shared"), output=str(tmp / "out.png"),
                       fed=str(tmp / "fed.png"))
    runs = [float(subprocess.check_output([sys.executable, "-c", code], text=True)) for _ in range(3)]
    return statistics.median(runs)


def on_the_webhook_path(made: list[tuple[str, str, bool, bytes, bytes]], runs: int = 40) -> tuple[list[float], list[float]]:
    """``service.check_cell`` as the webhook calls it (moto in-process S3 holding the fed angle's
    thumbnail; the cell's imageInput as RunPrediction signs it; the output's thumbnail decoded, as
    the webhook made it): wall ms per image for an angle's first colour (the fed thumbnail read and
    decoded) and for its next ones (the fed thumbnail kept)."""
    import os

    from PIL import Image

    os.environ.update({"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1",
                       "TABLE_NAME": "bench-table", "BUCKET_NAME": "bench-bucket", "POWERTOOLS_LOG_LEVEL": "WARNING"})
    for name in ("AWS_ENDPOINT_URL", "PUBLIC_ASSET_BASE_URL", "COLOR_CHECK_MAX_DELTA_E"):
        os.environ.pop(name, None)
    from moto import mock_aws

    from marketplace import aws
    from marketplace.color_check import service
    from marketplace.domain import Cell
    from marketplace.statuses import CellType
    from marketplace.urls import object_url
    from tests.support.aws_resources import create_bucket_from_template
    from tests.support.resets import reset_marketplace_caches

    reset_marketplace_caches()
    from marketplace.observability import logger

    logger.registered_handler.setStream(io.StringIO())  # log as in Lambda, but not to the terminal
    first, next_ones = [], []
    with mock_aws():
        s3 = aws.s3_client()
        create_bucket_from_template(s3, "bench-bucket")
        for run in range(runs + 3):
            _angle, value, _drift, output, fed = made[run % len(made)]
            key = f"batches/b/a{run}/angle.png"
            s3.put_object(Bucket="bench-bucket", Key=key.replace(".png", ".thumb.png"), Body=fed)
            cell = Cell(batchId="b", type=CellType.COLOR, angleKey=f"a{run}", colorKey="c", promptValue=value,
                        imageInput=[object_url(key, expires_in=3600)])
            with Image.open(io.BytesIO(output)) as opened:
                decoded = opened.convert("RGB")
            for times in (first, next_ones):
                started = time.perf_counter()
                service.check_cell(cell, decoded)
                if run >= 3:
                    times.append((time.perf_counter() - started) * 1000)
    return first, next_ones


def main(repeats: int = 5) -> None:
    import tempfile

    threshold = Settings.model_fields["color_check_max_delta_e"].default
    made = pictures()
    check_color(made[0][1], made[0][3], made[0][4], threshold)  # imports and caches, as a warm Lambda
    wall: list[float] = []
    cpu: list[float] = []
    ok_max = (0.0, "")
    drift_min = (1e9, "")
    for _ in range(repeats):
        for angle, value, drift, output, fed in made:
            started, started_cpu = time.perf_counter(), time.process_time()
            result = check_color(value, output, fed, threshold)
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
            delta = result.delta_e if result.delta_e is not None else float("nan")
            if not drift and result.verdict == "ok" and delta > ok_max[0]:
                ok_max = (delta, f"{angle} {value}")
            if drift and delta < drift_min[0]:
                drift_min = (delta, f"{angle} {value}")
    with tempfile.TemporaryDirectory() as tmp:
        cold = cold_first_check(made[0][3], made[0][4], Path(tmp))
    path, path_kept = on_the_webhook_path(made)
    images = len(made)
    print(f"colour check: {images} images (stand-in thumbnails, <= 512 px, measured at <= 160 px) x {repeats} repeats")
    print(f"  per image, wall  median {statistics.median(wall):6.1f} ms  p95 {percentile(wall, 0.95):6.1f} ms  "
          f"max {max(wall):6.1f} ms  ({statistics.median(wall) / GOAL_MS:.2f} x the {GOAL_MS:.0f} ms goal)")
    print(f"  per image, CPU   median {statistics.median(cpu):6.1f} ms  p95 {percentile(cpu, 0.95):6.1f} ms")
    print(f"  on the webhook's path (service.check_cell), wall: an angle's first colour (fed thumbnail read from "
          f"S3 in moto, decoded) median {statistics.median(path):6.1f} ms  p95 {percentile(path, 0.95):6.1f} ms; "
          f"its next colours (fed thumbnail kept) median {statistics.median(path_kept):6.1f} ms  "
          f"p95 {percentile(path_kept, 0.95):6.1f} ms")
    print(f"  first check in a fresh interpreter (Pillow + coloraide imports): {cold:.0f} ms "
          f"(bound on the webhook's path: {CHECK_SECONDS * 1000:.0f} ms)")
    print(f"  verdicts at the default threshold {threshold:g}: largest ok dE {ok_max[0]:.1f} ({ok_max[1]}), "
          f"smallest drifted dE {drift_min[0]:.1f} ({drift_min[1]})")


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:2]))
