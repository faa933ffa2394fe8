"""Which Replicate the local stack talks to, and the laptop mode's poller.

* ``standin`` (default): the stand-in, reachable from here: presigned local-S3 URLs as inputs,
  signed webhooks to the gateway.
* ``replicate`` (``REPLICATE_API_TOKEN`` in the shell of ``python -m local_stack`` / ``make
  demo`` / ``make dev``): the real api.replicate.com, which cannot reach this machine.
* ``standin-remote`` (``STANDIN_REMOTE=1``, which wins): the stand-in playing that remote
  Replicate (``replicate_standin/files.py``), so the laptop mode is tested offline end to end.

The two remote targets run the product in laptop mode (docs/ARCHITECTURE.md, "Laptop mode"):
``REPLICATE_INPUT_HANDOVER=files`` (own objects reach Replicate through its Files API) and
``REPLICATE_COMPLETION=poll`` (no webhook is asked for). The template's reconcile schedule is then
fired every ``LOCAL_POLL_SECONDS`` (0.5 s) instead of every minute: the same ReconcileFunction
handler, whose poll mode reads Replicate's prediction list and settles each ended cell through
the webhook's own path (cell, S3, gallery, push, SendTaskSuccess). A cell is settled within
about a second of its prediction ending; nothing is opened to the internet.

The token: the shell's ``REPLICATE_API_TOKEN`` is read only by the ``replicate`` target, goes
into the handlers' environment (where the product reads its token) and to api.replicate.com in
its Authorization header, and nowhere else (never a log line, the ready file, the page or
``out/``). Tests never see it: tests/conftest.py drops it from their environment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .model import ScheduleSpec
from .schedules import Scheduler

STANDIN, STANDIN_REMOTE, REPLICATE = "standin", "standin-remote", "replicate"
TARGETS = (STANDIN, STANDIN_REMOTE, REPLICATE)
REMOTE_TARGETS = (STANDIN_REMOTE, REPLICATE)
RECONCILER = "ReconcileFunction"
POLL_SECONDS = 0.5


def choose_target(shell: Mapping[str, str]) -> str:
    """``STANDIN_REMOTE=1`` → the stand-in as the remote Replicate; else a ``REPLICATE_API_TOKEN``
    in the shell → the real Replicate; else the stand-in."""
    if (shell.get("STANDIN_REMOTE") or "").strip().lower() in ("1", "true", "yes"):
        return STANDIN_REMOTE
    if (shell.get("REPLICATE_API_TOKEN") or "").strip():
        return REPLICATE
    return STANDIN


def target_environment(target: str, shell: Mapping[str, str]) -> dict[str, str | None]:
    """What the target changes in the stack's environment (None = unset)."""
    if target not in TARGETS:
        raise ValueError(f"unknown Replicate target {target!r}; one of {', '.join(TARGETS)}")
    if target == STANDIN:
        return {"STANDIN_REMOTE": "0"}
    laptop: dict[str, str | None] = {"REPLICATE_INPUT_HANDOVER": "files", "REPLICATE_COMPLETION": "poll"}
    if target == STANDIN_REMOTE:
        return {**laptop, "STANDIN_REMOTE": "1"}
    token = (shell.get("REPLICATE_API_TOKEN") or "").strip()
    if not token:
        raise ValueError("the replicate target needs REPLICATE_API_TOKEN in the environment")
    return {
        **laptop,
        "REPLICATE_API_TOKEN": token,
        "REPLICATE_BASE_URL": None,  # api.replicate.com
        "REPLICATE_OUTPUT_HOSTS": None,  # outputs only from replicate.delivery
        "STANDIN_API_TOKEN": None,
        "STANDIN_WEBHOOK_SECRET": None,
        "STANDIN_REMOTE": None,
    }


def describe(target: str, standin_url: str | None) -> str:
    """One line for the terminal: which Replicate, and what it costs."""
    if target == REPLICATE:
        return ("Replicate: api.replicate.com with your REPLICATE_API_TOKEN (real google/nano-banana images, billed "
                "per image; inputs through its Files API, completion polled every 0.5 s)")
    if target == STANDIN_REMOTE:
        return f"Replicate: the stand-in at {standin_url} playing the remote Replicate (Files API, no webhooks, polled)"
    return f"Replicate: the stand-in at {standin_url}"


class Poller:
    """The reconcile schedule fired every ``interval_s`` (the laptop mode's completion path);
    a sweep still running when the next tick comes is not started twice."""

    def __init__(self, reconcile: list[ScheduleSpec], invoke: Callable[[str, Any], Any], interval_s: float,
                 log: Callable[[str], None] | None = None) -> None:
        self._scheduler = Scheduler(reconcile, invoke, interval_s, log)

    @staticmethod
    def split(schedules: list[ScheduleSpec]) -> tuple[list[ScheduleSpec], list[ScheduleSpec]]:
        """(the reconciler's schedules, the others)."""
        mine = [s for s in schedules if s.function == RECONCILER]
        return mine, [s for s in schedules if s.function != RECONCILER]

    @property
    def sweeps(self) -> int:
        return self._scheduler.fired

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        self._scheduler.stop()
