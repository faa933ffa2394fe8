"""The page (JavaScript) and the backend (Python) each write the cell status order once; they
must be the same order, or the page would move a cell backwards or refuse a real status."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from marketplace.statuses import CellStatus

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[3]


def test_given_the_pages_status_rank_when_compared_then_it_is_the_backends_order() -> None:
    source = (ROOT / "web" / "batch_state.js").read_text()
    match = re.search(r"STATUS_RANK = Object\.freeze\((\{[^}]*\})\)", source)
    assert match, "STATUS_RANK not found in web/batch_state.js"
    page_rank = json.loads(re.sub(r"(\w+):", r'"\1":', match.group(1)))
    assert page_rank == {str(status): status.rank for status in CellStatus}
