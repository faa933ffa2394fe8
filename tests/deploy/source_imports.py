"""The top-level modules Python sources import (what must be importable where they run)."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path


def top_level_imports(paths: Iterable[Path]) -> set[str]:
    """Absolute imports only: a relative import stays inside its own package."""
    names: set[str] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names
