"""The Replicate stand-in's CPU per generated image (``replicate_standin.model.generate``).

Angle jobs: each sample angle preset drawn from the three sample photos (their decode and paint
are cached after the warm-up, as in a batch). Colour jobs: every sample colour on one angle's
picture, an angle's colours together as a batch sends them (so they share a viewpoint), all
angles in turn. Prints CPU ms per job (``process_time``: median and mean over the runs after a
warm-up), where it goes (render vs. PNG encode), the output bytes and what the caches keep.

Prints figures (never asserts). Run: .venv/bin/python benchmarks/standin_render.py [runs]
"""

from __future__ import annotations

import csv
import functools
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from replicate_standin import model, png, studio  # noqa: E402

PRESETS = ROOT / "samples" / "presets"


def rows(name: str) -> list[dict[str, str]]:
    with (PRESETS / name).open(encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def cpu_ms(jobs: Sequence[Callable[[], bytes]], runs: int) -> tuple[list[float], list[int]]:
    """CPU ms and output bytes of each of ``runs`` jobs (cycling through ``jobs``), after 3 warm-ups."""
    for job in jobs[:3]:
        job()
    times, sizes = [], []
    for run in range(runs):
        started = time.process_time()
        data = jobs[run % len(jobs)]()
        times.append((time.process_time() - started) * 1000)
        sizes.append(len(data))
    return times, sizes


def report(name: str, times: list[float], sizes: list[int]) -> None:
    print(f"{name:<14} CPU ms/job: median {statistics.median(times):6.2f}  mean {statistics.fmean(times):6.2f}"
          f"  min {min(times):6.2f}   bytes: mean {statistics.fmean(sizes) / 1000:6.1f} KB  max {max(sizes) / 1000:6.1f} KB")


def main(runs: int = 30) -> None:
    templates = {row["key"]: row["prompt_template"] for row in rows("global_prompts.csv")}
    photos = [(path.name, path.read_bytes()) for path in sorted((ROOT / "samples" / "photos").glob("*.jpg"))]
    angle_prompts = [templates["angle_generation"].replace("{{ANGLE_DESC}}", row["angle_desc"])
                     for row in rows("angle_presets.csv")]
    colour_prompts = [templates["colorization"].replace("{{COLOR_NAME}}", row["prompt_value"])
                      for row in rows("color_presets.csv")]

    def job(prompt: str, sources: list[tuple[str, bytes]], output_format: str = "png") -> bytes:
        return model.generate(prompt, sources, output_format=output_format).data

    angle_jobs = [functools.partial(job, prompt, photos) for prompt in angle_prompts]
    times, sizes = cpu_ms(angle_jobs, runs)
    report("angle job", times, sizes)

    angle_pngs = [model.generate(prompt, photos).data for prompt in angle_prompts]
    colour_jobs = [functools.partial(job, prompt, [("angle.png", fed)]) for fed in angle_pngs for prompt in colour_prompts]
    times, sizes = cpu_ms(colour_jobs, max(runs, len(colour_jobs)))
    report("colour job", times, sizes)

    # Where a colour job's time goes: the drawing, then the PNG.
    scenes = [scene.repainted((192, 0, 0), finish) for fed in angle_pngs if (scene := model.scene_of(fed))
              for finish in studio.FINISHES]
    render_ms, encode_ms = [], []
    for run in range(3 + max(runs, len(scenes))):
        scene = scenes[run % len(scenes)]
        started = time.process_time()
        picture, _mask = studio.render(scene)
        drawn = time.process_time()
        model.encode(picture, "png", scene)
        if run >= 3:
            render_ms.append((drawn - started) * 1000)
            encode_ms.append((time.process_time() - drawn) * 1000)
    print(f"{'  of which':<14} render {statistics.median(render_ms):6.2f} ms, PNG encode {statistics.median(encode_ms):6.2f} ms"
          " (median, colour scenes)")
    jpeg_times, jpeg_sizes = cpu_ms([functools.partial(job, prompt, photos, "jpg") for prompt in angle_prompts],
                                    max(10, runs // 3))
    report("angle (jpg)", jpeg_times, jpeg_sizes)

    views = list(studio.VIEWS._items.values())
    runs_kept = list(png.RUNS._items.values())
    view_bytes = sum(4 * view.set.width * view.set.height for view in views)  # Pillow keeps RGB in 4 bytes a pixel
    run_bytes = sum(len(run.pixels) + len(run.packed) for run in runs_kept)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000
    print(f"kept: {len(views)} studio views {view_bytes / 1e6:.1f} MB (sets; plans ~0.1 MB each), "
          f"{len(runs_kept)} PNG row runs {run_bytes / 1e6:.1f} MB; peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
