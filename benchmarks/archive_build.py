"""ZIP export of a 30 x 40 batch through the real BuildArchive handler: build time, ZIP bytes,
images, and the process's peak memory (tracemalloc peak, RSS high-water mark) against the
function's MemorySize in template.yaml.

S3 and DynamoDB are a moto server in a child process (objects over 64 KB on disk, as the local
stack keeps them), so this process's memory is the builder's alone. Every completed cell has a
PNG of incompressible noise (--image-kb, default 1,024 KB: real nano-banana outputs are 1-2 MB)
and a 512 x 384 thumbnail; the presets are a generated 30 x 40 sheet served over HTTP. The
archive is then downloaded and checked with zipfile (and `unzip -t` when installed).

Build time here includes moto's S3 (one Python process serving every GET and part); prints
figures, never asserts.
Run: .venv/bin/python benchmarks/archive_build.py [--angles 30] [--colors 40] [--image-kb 1024] [--no-verify]
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "shared")]

import httpx  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

from tests.support.csv_server import serve_folder  # noqa: E402
from tests.support.handler_env import HANDLER_ENV, presets_env  # noqa: E402
from tests.support.lambda_events import FakeContext, load_function  # noqa: E402
from tests.support.presets_factory import write_large_presets  # noqa: E402
from tests.support.resets import reset_marketplace_caches  # noqa: E402

MIB = 1024 * 1024
VARIANTS = 8
warnings.filterwarnings("ignore", "No application metrics to publish")


def _template_function(logical_id: str) -> dict[str, int]:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=Loader)
    props = template["Resources"][logical_id]["Properties"]
    return {"memory_mb": int(props.get("MemorySize", template["Globals"]["Function"]["MemorySize"])),
            "timeout_s": int(props.get("Timeout", template["Globals"]["Function"]["Timeout"]))}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    env = {**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(64 * 1024)}
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("moto server did not start")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _variants(image_kb: int) -> tuple[list[bytes], list[bytes]]:
    side = int((image_kb * 1024 / 3) ** 0.5)
    full = [_png(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))) for _ in range(VARIANTS)]
    thumbs = [_png(Image.merge("RGB", [Image.effect_noise((512, 384), 24 + 8 * i)] * 3)) for i in range(VARIANTS)]
    return full, thumbs


def _seed(angles: int, colors: int, image_kb: int) -> tuple[str, int, int]:
    """The batch, its completed cells and their objects; returns (batchId, images, image bytes)."""
    import boto3

    from marketplace.domain import Batch, Cell
    from marketplace.repository import get_repository, now_iso
    from marketplace.statuses import BatchStatus, CellStatus, CellType
    from tests.support.aws_resources import BUCKET, create_bucket_from_template, create_table_from_template

    create_table_from_template(boto3.client("dynamodb"))
    create_bucket_from_template(boto3.client("s3"))
    batch_id = "bench" + os.urandom(8).hex()
    angle_keys = [f"angle_{i:02d}" for i in range(angles)]
    color_keys = [f"color_{i:02d}" for i in range(colors)]
    now = now_iso()
    cells = []
    for a in angle_keys:
        for c in [None, *color_keys]:
            image_key = f"batches/{batch_id}/{a}/{c or 'angle'}.png"
            cells.append(Cell(batchId=batch_id, runId=batch_id, owner="bench", type=CellType.COLOR if c else CellType.ANGLE,
                              angleKey=a, colorKey=c, status=CellStatus.COMPLETED, prompt=f"studio photo {a} {c}",
                              imageKey=image_key, thumbKey=image_key.replace(".png", ".thumb.png"),
                              createdAt=now, updatedAt=now, completedAt=now))
    batch = Batch(batchId=batch_id, owner="bench", status=BatchStatus.COMPLETED, sourceImageUrls=["https://x.test/a.jpg"],
                  angles=angle_keys, colors=color_keys, totalJobs=len(cells), completedJobs=len(cells), createdAt=now)
    get_repository().create_batch(batch, cells)
    full, thumbs = _variants(image_kb)
    s3 = boto3.client("s3")

    def put(index_cell: tuple[int, Cell]) -> int:
        index, cell = index_cell
        s3.put_object(Bucket=BUCKET, Key=cell.imageKey, Body=full[index % VARIANTS])
        s3.put_object(Bucket=BUCKET, Key=cell.thumbKey, Body=thumbs[index % VARIANTS])
        return len(full[index % VARIANTS])

    with ThreadPoolExecutor(16) as pool:
        total = sum(pool.map(put, enumerate(cells)))
    return batch_id, len(cells), total


def _verify(object_key: str, images: int) -> str:
    import boto3

    from tests.support.aws_resources import BUCKET

    with tempfile.NamedTemporaryFile(suffix=".zip") as handle:
        boto3.client("s3").download_fileobj(BUCKET, object_key, handle)
        handle.flush()
        with zipfile.ZipFile(handle.name) as archive:
            bad = archive.testzip()
            names = archive.namelist()
        pngs = sum(1 for n in names if n.endswith(".png") and n != "matrix.png")
        verdict = f"zipfile: {len(names)} entries, {pngs} cell PNGs ({'ok' if pngs == images else 'MISMATCH'}), " \
                  f"CRC {'ok' if bad is None else 'BAD: ' + bad}"
        if shutil.which("unzip"):
            run = subprocess.run(["unzip", "-tq", handle.name], capture_output=True, text=True, check=False)
            verdict += f"; unzip -t: {run.stdout.strip() or run.stderr.strip()}"
    return verdict


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--angles", type=int, default=30)
    parser.add_argument("--colors", type=int, default=40)
    parser.add_argument("--image-kb", type=int, default=1024)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args()
    limits = _template_function("BuildArchiveFunction")
    moto, moto_url = _start_moto()
    folder = Path(tempfile.mkdtemp(prefix="archive-bench-"))
    try:
        shutil.copy(ROOT / "samples" / "presets" / "global_prompts.csv", folder / "global_prompts.csv")
        write_large_presets(folder, args.angles, args.colors)
        with serve_folder(folder) as csv_url:
            os.environ.update({**HANDLER_ENV, **presets_env(csv_url), "AWS_ENDPOINT_URL": moto_url,
                               "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
            reset_marketplace_caches()
            started = time.monotonic()
            batch_id, images, image_bytes = _seed(args.angles, args.colors, args.image_kb)
            print(f"seeded {images} completed cells ({image_bytes / MIB:,.0f} MiB of PNGs, "
                  f"{args.image_kb} KB each) in {time.monotonic() - started:.1f} s")

            from marketplace.archive import service

            events: list[dict[str, str]] = []
            service.invoke_builder = lambda b, build: events.append({"batchId": b, "buildId": build})  # type: ignore[assignment]
            service.request_archive("bench", batch_id)
            handler = load_function("build_archive").lambda_handler
            gc.collect()
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            tracemalloc.start()
            started = time.monotonic()
            result = handler(events[0], FakeContext(memory_limit_in_mb=limits["memory_mb"]))
            seconds = time.monotonic() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            record = service._rows().get(batch_id)
            assert record is not None
            print(f"result: {result}")
            timeout = limits["timeout_s"]
            print(f"build time          {seconds:10.1f} s   ({seconds / timeout:.2f} x the {timeout} s Timeout)")
            print(f"ZIP bytes           {result.get('bytes', 0):>10,}   ({result.get('bytes', 0) / MIB:,.0f} MiB)")
            print(f"images              {result.get('images', 0):>10,}   (+ matrix.png, manifest.json)")
            print(f"tracemalloc peak    {peak / MIB:10.1f} MiB ({peak / MIB / limits['memory_mb']:.2f} x the "
                  f"{limits['memory_mb']} MB MemorySize)")
            print(f"RSS high-water      {rss:10.1f} MiB ({rss / limits['memory_mb']:.2f} x MemorySize; "
                  f"{rss_before:.0f} MiB before the build: interpreter, boto3, seeding)")
            print(f"throughput          {result.get('bytes', 0) / MIB / seconds:10.1f} MiB/s through moto's S3")
            if not args.no_verify and record.objectKey:
                print(_verify(record.objectKey, images))
    finally:
        moto.terminate()
        moto.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
