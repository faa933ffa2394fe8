"""The Replicate stand-in in its own process (its own interpreter and GIL: its image work and
webhook client run on the other core). Started by `LocalStack` with the socket the stack bound
and the stack's environment (`STANDIN_*`: port, token, webhook secret, latency, faults), so its
URL and secret are the stack's choice; it exits when the stack closes its lifeline or dies.

`python -m local_stack.standin_process --fd N --lifeline M` (the stack runs it; not for hand use:
`python -m replicate_standin` serves the stand-in alone)."""

from __future__ import annotations

import argparse
import os
import signal
import sys

from .children import follow_lifeline, inherited_socket, lean_malloc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.standin_process")
    parser.add_argument("--fd", type=int, required=True, help="listening socket inherited from the stack")
    parser.add_argument("--lifeline", type=int, required=True, help="pipe whose end-of-file means: exit")
    args = parser.parse_args(argv)
    lean_malloc()
    follow_lifeline(args.lifeline)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the stack decides when this process ends

    import uvicorn

    from replicate_standin.app import create_app
    from replicate_standin.settings import StandinSettings

    config = uvicorn.Config(
        create_app(StandinSettings.from_env(), warm=True),
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[inherited_socket(args.fd)])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
