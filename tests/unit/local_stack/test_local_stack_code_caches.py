"""A new stack reads its environment afresh: `clear_code_caches` empties the caches of the
product's already imported modules (functools caches and objects that clear like them), and a
class that defines `cache_clear` for its instances is no cache itself."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from local_stack.lambdas import clear_code_caches

pytestmark = pytest.mark.unit

MODULE = '''
import functools


@functools.lru_cache(maxsize=1)
def settings():
    return object()


class Kept:
    def __init__(self):
        self.items = {"a": 1}

    def cache_clear(self):
        self.items.clear()


kept = Kept()
'''


def test_given_a_module_with_a_cache_class_when_caches_are_cleared_then_its_caches_empty_and_the_class_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    (tmp_path / "cached_code.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("cached_code")
    try:
        first = module.settings()
        assert clear_code_caches([tmp_path]) == 2  # the lru_cache and the instance; not the class
        assert module.settings() is not first and module.kept.items == {}
    finally:
        sys.modules.pop("cached_code", None)
