"""The repository: every store of the one table behind one object (``get_repository()``).

Split by what it stores (``marketplace.store``): batches and cells, cell transitions, the
schedule of prediction creates, connections, the gallery. Typed records in and out.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .store.batches import BatchRows
from .store.cells import CellRows
from .store.connections import ConnectionRows
from .store.gallery import GalleryRows
from .store.pacer import PacerRows
from .store.table import Table, now_iso

__all__ = ["Repository", "get_repository", "now_iso", "reset_repository"]


class Repository(BatchRows, CellRows, PacerRows, ConnectionRows, GalleryRows):
    def __init__(self, client: Any = None, table_name: str | None = None) -> None:
        self.table = Table(client, table_name)


@lru_cache(maxsize=1)
def get_repository() -> Repository:
    """One per process, built on first use (not at import: tests set the environment first)."""
    return Repository()


reset_repository = get_repository.cache_clear
