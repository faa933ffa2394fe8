"""The layer ships every third-party package the functions import (sam build reads its requirements)."""

from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.deploy.source_imports import top_level_imports

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]
LAYER = ROOT / "layers" / "shared"


def _closure(requirements: list[str]) -> set[str]:
    """The distributions the requirements install here, with their dependencies (markers and
    extras evaluated as pip would)."""
    from packaging.requirements import Requirement

    seen: set[tuple[str, frozenset[str]]] = set()
    names: set[str] = set()
    pending = [Requirement(r) for r in requirements]
    while pending:
        requirement = pending.pop()
        name = requirement.name.lower().replace("_", "-")
        key = (name, frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        names.add(name)
        for raw in metadata.requires(name) or []:
            dependency = Requirement(raw)
            applies = dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in (requirement.extras or {""})
            )
            if applies:
                pending.append(dependency)
    return names


def test_given_the_functions_and_layer_when_their_imports_are_resolved_then_the_layer_requirements_cover_them():
    sources = list((LAYER / "marketplace").rglob("*.py")) + list((ROOT / "functions").glob("*/app.py"))
    third_party = top_level_imports(sources) - set(sys.stdlib_module_names) - {"marketplace", "__future__"}
    requirements = [line.strip() for line in (LAYER / "requirements.txt").read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    installed = _closure(requirements)
    providers = metadata.packages_distributions()
    missing = {name: providers.get(name) for name in third_party
               if not any(d.lower().replace("_", "-") in installed for d in providers.get(name, [name]))}
    assert missing == {}, f"imported by the functions but not shipped in the layer: {missing}"


def test_given_the_repository_requirements_when_read_then_they_include_the_layer_pins():
    assert "-r layers/shared/requirements.txt" in (ROOT / "requirements.txt").read_text()
