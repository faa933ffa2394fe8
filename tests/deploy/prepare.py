"""Installs and runs what the deploy checks read; each step is skipped while its inputs are unchanged.

    python tests/deploy/prepare.py [asl-service|sam-cli|sam-build ...]   (no argument: all three)

- asl-service: `npm ci` of tests/deploy/package-lock.json (AWS's Step Functions language service).
- sam-cli: SAM CLI in its own virtualenv (.venv-sam) from tests/deploy/sam-requirements.lock, so its
  pins never meet requirements-dev.lock.
- sam-build: `sam build` of template.yaml (python3.13, arm64, no container) into SAM's own .aws-sam/build
  (so `sam deploy` ships it), with a CPython 3.13 found on this machine. The stamp lives in the build
  folder: any other `sam build` wipes it, and the next run builds again.

Standard library only: `make deploy-checks` and the tests in tests/deploy both run it.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "tests" / "deploy"
NODE_MODULES = DEPLOY / "node_modules"
SAM_VENV = ROOT / ".venv-sam"
SAM_LOCK = DEPLOY / "sam-requirements.lock"
BUILD_DIR = ROOT / ".aws-sam" / "build"
BUILD_INPUTS = ("template.yaml", "layers", "functions")


def _digest(paths: Iterable[Path]) -> str:
    sha = hashlib.sha1()
    for path in sorted(paths):
        sha.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:12]


def _files(*names: str) -> list[Path]:
    """The files under these repository paths, without Python's caches."""
    found: list[Path] = []
    for name in names:
        top = ROOT / name
        candidates = [top] if top.is_file() else top.rglob("*")
        found += [p for p in candidates if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"]
    return found


def _run(command: list[str], cwd: Path = ROOT, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[:3])} ... failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def _restamp(stamp: Path, content: str = "") -> None:
    for old in stamp.parent.glob(stamp.name.rsplit("-", 1)[0] + "-*"):
        old.unlink()
    stamp.write_text(content)


def ensure_asl_service() -> bool:
    """npm ci when node_modules is missing or older than package.json/package-lock.json; True if it ran."""
    stamp = NODE_MODULES / f".deps-{_digest([DEPLOY / 'package.json', DEPLOY / 'package-lock.json'])}"
    if stamp.exists():
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm not found: the Step Functions check needs Node.js 18+ and npm on PATH")
    _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=DEPLOY)  # ci wipes node_modules first
    _restamp(stamp)
    return True


def ensure_sam_cli() -> bool:
    """The pinned SAM CLI in .venv-sam; True if it (re)installed."""
    stamp = SAM_VENV / f".deps-{_digest([SAM_LOCK])}"
    if stamp.exists():
        return False
    if not (SAM_VENV / "bin" / "python").exists():
        _run([sys.executable, "-m", "venv", str(SAM_VENV)])
    _run([str(SAM_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(SAM_LOCK)])
    _restamp(stamp)
    return True


def _python313_candidates() -> list[str]:
    candidates = [os.environ.get("PYTHON313", ""), shutil.which("python3.13") or ""]
    pyenv = shutil.which("pyenv")
    roots = [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv")]
    if pyenv:
        roots.insert(0, subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip())
    for root in filter(None, roots):
        candidates += sorted(glob.glob(f"{root}/versions/3.13*/bin/python3.13"), reverse=True)
    candidates += sorted(glob.glob(str(Path.home() / ".local/share/uv/python/cpython-3.13*/bin/python3.13")), reverse=True)
    return list(dict.fromkeys(filter(None, candidates)))


def find_python313() -> Path:
    """A working CPython 3.13 with pip (what SAM's python3.13 builder runs); pyenv shims that refuse
    3.13 are skipped. PYTHON313=/path/to/python3.13 overrides the search."""
    probe = ("import sys, pip; assert sys.implementation.name == 'cpython' and sys.version_info[:2] == (3, 13); "
             "print(sys.executable)")
    for candidate in _python313_candidates():
        result = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return Path(result.stdout.strip())
    raise SystemExit(
        "sam build needs a CPython 3.13 with pip for the python3.13 runtime and found none "
        f"(tried: {', '.join(_python313_candidates()) or 'python3.13 on PATH, pyenv versions'}). "
        "Install one (e.g. `pyenv install 3.13`) or set PYTHON313=/path/to/python3.13."
    )


def build_stamp() -> Path:
    """Named after the build's inputs: the template, the layer (its requirements and code), the functions
    and the SAM CLI lock."""
    return BUILD_DIR / f".deploy-checks-{_digest(_files(*BUILD_INPUTS, str(SAM_LOCK.relative_to(ROOT))))}.json"


def ensure_sam_build() -> dict[str, object]:
    """`sam build` unless the stamp of these inputs exists; returns the build's record (python used,
    seconds, whether it ran now)."""
    ensure_sam_cli()
    stamp = build_stamp()
    if stamp.exists():
        return {**json.loads(stamp.read_text()), "built_now": False}
    python313 = find_python313()
    env = {**os.environ, "PATH": f"{python313.parent}{os.pathsep}{os.environ.get('PATH', '')}", "SAM_CLI_TELEMETRY": "0"}
    started = time.monotonic()
    _run([str(SAM_VENV / "bin" / "sam"), "build", "--template", "template.yaml", "--build-dir", str(BUILD_DIR),
          "--cached", "--parallel"], env=env)
    record = {"python313": str(python313), "seconds": round(time.monotonic() - started, 1)}
    _restamp(stamp, json.dumps(record, indent=2))
    return {**record, "built_now": True}


STEPS = {"asl-service": ensure_asl_service, "sam-cli": ensure_sam_cli, "sam-build": ensure_sam_build}


def main(names: list[str]) -> None:
    for name in names or list(STEPS):
        started = time.monotonic()
        outcome = STEPS[name]()
        ran = outcome.get("built_now") if isinstance(outcome, dict) else outcome
        print(f"deploy-checks {name}: {'done' if ran else 'up to date'} in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:])
