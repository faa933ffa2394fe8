"""A stand-in for Replicate's HTTP API (``google/nano-banana``), for the local stack and tests.

``create_app(settings)`` builds the ASGI app; ``app.state.standin`` is the in-memory
``StandinStore`` (``list_predictions()``, ``wait_idle(timeout)``, ...).
"""

from .app import create_app
from .settings import StandinSettings
from .store import StandinStore

__all__ = ["StandinSettings", "StandinStore", "create_app"]
