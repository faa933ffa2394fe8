"""``python -m replicate_standin``: serve the stand-in on 127.0.0.1:$STANDIN_PORT."""

from __future__ import annotations

import logging

import uvicorn

from .app import create_app
from .settings import StandinSettings


def main() -> None:
    settings = StandinSettings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("replicate_standin").info(
        "Replicate stand-in on http://%s:%d (latency %.2fs, faults %s); webhook secret at GET /v1/webhooks/default/secret",
        settings.host,
        settings.port,
        settings.latency_seconds,
        settings.faults or "none",
    )
    uvicorn.run(create_app(settings, warm=True), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
