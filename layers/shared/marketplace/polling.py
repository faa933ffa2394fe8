"""Poll mode (``REPLICATE_COMPLETION=poll``): which pending cells' predictions have ended, learnt
from Replicate's prediction list (newest first, up to 100 a page) instead of one ``GET`` per cell:
a batch with hundreds of predictions in flight is looked at in a few requests, well inside
Replicate's 3,000-a-minute limit for reads, however often the sweep runs.

Pure choice over what the list says; the reconciler then settles each ended cell with the one
path every outcome takes (``GET`` of the prediction → ``cells.handle_prediction_update``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from . import predictions
from .domain import Cell
from .statuses import RUNNING_PREDICTION

# Pages read at most per sweep (100 predictions each): past them, a cell is polled on its own
# once it has been quiet for RECONCILE_AFTER_SECONDS, as in webhook mode.
MAX_LIST_PAGES = 10
# Replicate's clock against ours: the list is read a little past the oldest pending cell.
CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class ListSweep:
    ended: list[Cell]  # the list shows their prediction terminal: settle now
    running: list[Cell]  # the list shows their prediction still running: nothing to do
    unseen: list[Cell]  # not in the pages read: polled one by one once quiet
    pages: int


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def sweep_list(pending: Iterable[Cell], max_pages: int = MAX_LIST_PAGES) -> ListSweep:
    """Reads the list until every pending prediction is found, the pages are older than the
    oldest pending cell, or ``max_pages`` were read."""
    wanted = {str(cell.predictionId): cell for cell in pending if cell.predictionId}
    starts = [m for m in (_moment(c.startedAt or c.updatedAt) for c in wanted.values()) if m is not None]
    floor = min(starts) - CLOCK_SLACK if starts else None
    ended: list[Cell] = []
    running: list[Cell] = []
    url: str | None = None
    pages = 0
    while wanted and pages < max_pages:
        items, url = predictions.list_predictions_page(url)
        pages += 1
        for item in items:
            cell = wanted.pop(str(item["id"]), None)
            if cell is not None:
                (running if item.get("status") in RUNNING_PREDICTION else ended).append(cell)
        oldest = _moment(items[-1].get("created_at")) if items else None
        if url is None or not items or (floor is not None and oldest is not None and oldest < floor):
            break
    return ListSweep(ended, running, list(wanted.values()), pages)
