"""Lambda's init imports each handler without what it does not need there: no X-Ray SDK (the
Tracer is built on the first invocation), no Replicate client or httpx where the function never
calls Replicate, and no AWS client built, whether tracing is on (in Lambda) or off (elsewhere,
where the X-Ray SDK's sampler would build a botocore client of its own).

Structural, never timed (timings flake on a shared machine): `benchmarks/handler_imports.py`
measures the same import, from the same `tests.support.cold_start`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cold_start import cold_start, function_folders, lambda_environment

pytestmark = pytest.mark.unit

FOLDERS = function_folders()
# The functions that call Replicate (and may load its client when they do); the others never.
CALLS_REPLICATE = {"run_prediction", "reconcile"}
# Loaded by an enabled Tracer only: the X-Ray SDK and the import hooks it patches with.
TRACING_MODULES = ("aws_xray_sdk", "wrapt")
REPLICATE_MODULES = ("replicate", "httpx", "httpcore")


def loaded(modules: frozenset[str], packages: tuple[str, ...]) -> list[str]:
    return sorted(package for package in packages if package in modules or any(m.startswith(f"{package}.") for m in modules))


def test_every_function_folder_is_in_the_template() -> None:
    assert FOLDERS and all(lambda_environment(folder)["AWS_LAMBDA_FUNCTION_NAME"] for folder in FOLDERS)


@pytest.mark.parametrize("folder", FOLDERS)
def test_given_lambdas_environment_when_init_imports_the_handler_then_no_tracing_sdk_no_unused_replicate_no_aws_client(
    folder: str,
) -> None:
    env = lambda_environment(folder)
    assert "LAMBDA_TASK_ROOT" in env and "POWERTOOLS_TRACE_DISABLED" not in env  # tracing on, as on AWS

    started = cold_start(folder, watch_clients=True, env=env)

    assert loaded(started.modules, TRACING_MODULES) == []
    if folder not in CALLS_REPLICATE:
        assert loaded(started.modules, REPLICATE_MODULES) == []
    assert started.clients == ()


@pytest.mark.parametrize("folder", FOLDERS)
def test_given_tracing_off_outside_lambda_when_the_handler_is_imported_then_no_xray_sampler_client_is_built(folder: str) -> None:
    env = {name: value for name, value in lambda_environment(folder).items() if name != "LAMBDA_TASK_ROOT"}

    started = cold_start(folder, watch_clients=True, env=env)

    assert loaded(started.modules, TRACING_MODULES) == []
    assert started.clients == ()


def _png(width: int, height: int) -> bytes:
    """A plain RGB PNG, written without Pillow (so writing it loads no codec)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((20, 90, 160)) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def test_given_the_outputs_module_initialised_when_the_first_output_is_checked_then_no_codec_is_imported(
        tmp_path: Path) -> None:
    """Pillow registers its codecs on the first open; a cold webhook's concurrent first checks
    all waited on those imports. The module registers them at init instead."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[3]
    picture = tmp_path / "output.png"
    picture.write_bytes(_png(64, 48))
    script = (
        "import sys\n"
        "from marketplace import outputs\n"
        "before = set(sys.modules)\n"
        f"data = open({str(picture)!r}, 'rb').read()\n"
        "assert outputs.check_png(data) == (64, 48)\n"
        "outputs.thumbnail_of(data)\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('PIL')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          cwd=root, env={"PYTHONPATH": str(root / "layers" / "shared"), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
