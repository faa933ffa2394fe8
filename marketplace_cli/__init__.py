"""Command-line client of the Car Marketplace API (`python -m marketplace_cli --help`)."""

import sys
from pathlib import Path

# The statuses (names and order) are the shared package's, not restated here: put the layer's
# folder on the path when the CLI runs from a checkout.
_SHARED = str(Path(__file__).resolve().parents[1] / "layers" / "shared")
if _SHARED not in sys.path:
    sys.path.append(_SHARED)

__all__ = ["__version__"]
__version__ = "0.1.0"
