"""`sam build` for python3.13/arm64 (no container), then the built artifacts are read.

The layer is built for arm64, so its compiled wheels cannot load on an x86_64 machine: instead of
importing the handlers, every top-level import of the functions and of `marketplace` must resolve
to the standard library (of 3.13), the function's own folder or the built layer, and every
compiled file in the layer must be an aarch64 ELF built for CPython 3.13.
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.prepare import BUILD_DIR, ensure_sam_build, find_python313
from tests.deploy.source_imports import top_level_imports

pytestmark = pytest.mark.deploy
EM_AARCH64 = 183  # ELF e_machine
EXTENSION_TAG = re.compile(r"\.cpython-(\d+)-(\w+)-linux-gnu\.so$")


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """The built template (`make deploy-checks` has usually built these inputs already)."""
    ensure_sam_build()
    return yaml.safe_load((BUILD_DIR / "template.yaml").read_text())


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    defaults = template.get("Globals", {}).get("Function", {})
    return {logical_id: {**defaults, **resource["Properties"]} for logical_id, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def _layer_folders(template: dict[str, Any], function: dict[str, Any]) -> list[Path]:
    return [BUILD_DIR / template["Resources"][layer["Ref"]]["Properties"]["ContentUri"] / "python"
            for layer in function.get("Layers", [])]


def _has_module(folder: Path, name: str) -> bool:
    return ((folder / name).is_dir() or (folder / f"{name}.py").is_file()
            or any(folder.glob(f"{name}.*.so")) or (folder / f"{name}.so").is_file())


def _elf_machine(path: Path) -> int:
    with path.open("rb") as handle:
        header = handle.read(20)
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")


def test_given_the_sam_build_when_its_template_is_read_then_every_function_has_its_handler_and_the_layer(built):
    functions = _functions(built)
    assert len(functions) == 8  # BuildArchiveFunction: the ZIP export
    for logical_id, function in functions.items():
        assert (function["Runtime"], function["Architectures"]) == ("python3.13", ["arm64"]), logical_id
        module, handler = function["Handler"].rsplit(".", 1)
        source = BUILD_DIR / function["CodeUri"] / f"{module.replace('.', '/')}.py"
        assert source.is_file(), f"{logical_id}: {source} not built"
        defined = {node.name for node in ast.parse(source.read_text()).body if isinstance(node, ast.FunctionDef)}
        assert handler in defined, f"{logical_id}: {function['Handler']} not defined"
        layers = _layer_folders(built, function)
        assert layers and all((layer / "marketplace" / "__init__.py").is_file() for layer in layers), logical_id


def test_given_the_built_functions_when_their_imports_are_resolved_then_each_is_in_the_stdlib_their_folder_or_the_layer(built):
    python313 = find_python313()
    stdlib = set(subprocess.run([str(python313), "-c", "import sys; print(*sys.stdlib_module_names)"],
                                capture_output=True, text=True, check=True).stdout.split())
    unresolved: dict[str, set[str]] = {}
    for logical_id, function in _functions(built).items():
        code = BUILD_DIR / function["CodeUri"]
        layers = _layer_folders(built, function)
        sources = [*code.rglob("*.py"), *(p for layer in layers for p in (layer / "marketplace").rglob("*.py"))]
        missing = {name for name in top_level_imports(sources) - stdlib
                   if not any(_has_module(folder, name) for folder in (code, *layers))}
        if missing:
            unresolved[logical_id] = missing
    assert unresolved == {}, f"imports not shipped in the built function or layer: {unresolved}"


def test_given_the_built_layer_when_its_compiled_files_are_read_then_they_are_aarch64_for_cpython_313(built):
    layers = {layer for function in _functions(built).values() for layer in _layer_folders(built, function)}
    for layer in layers:
        compiled = [p for p in layer.rglob("*") if p.is_file() and (p.suffix == ".so" or ".so." in p.name)]
        assert any(p.name.startswith("_pydantic_core.") for p in compiled), f"{layer}: pydantic_core not built"
        not_arm = [str(p.relative_to(layer)) for p in compiled if _elf_machine(p) != EM_AARCH64]
        assert not_arm == [], f"not aarch64: {not_arm}"
        tags = {m.groups() for p in compiled if (m := EXTENSION_TAG.search(p.name))}
        assert tags == {("313", "aarch64")}, f"extension modules built for {tags}"
