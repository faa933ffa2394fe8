"""Configuration of the Replicate stand-in.

Every field has a default suitable for the local stack; ``from_env()`` reads the
``STANDIN_*`` variables documented in docs/ARCHITECTURE.md. Tests build the
dataclass directly (``StandinSettings(latency_seconds=0.0, faults={"drop": 1.0})``).
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

FAULT_NAMES: tuple[str, ...] = ("fail", "duplicate", "drop", "reorder", "ratelimit", "slow", "drift")
"""Fault kinds understood by ``STANDIN_FAULTS`` (each value is a probability in [0, 1]). ``drift``
paints a colour job plainly off its target (an angle job is unaffected)."""


def parse_faults(text: str | None) -> dict[str, float]:
    """Parse ``"fail=0.1,duplicate=0.2"`` into ``{"fail": 0.1, "duplicate": 0.2}``.

    Blank text means no faults. Unknown names, missing ``=`` and probabilities outside
    [0, 1] raise ``ValueError`` naming the offending entry.
    """
    faults: dict[str, float] = {}
    if not text or not text.strip():
        return faults
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, value = entry.partition("=")
        name = name.strip().lower()
        if not sep:
            raise ValueError(f"STANDIN_FAULTS: entry {entry!r} is not NAME=PROBABILITY")
        try:
            faults[name] = float(value.strip())
        except ValueError:
            raise ValueError(f"STANDIN_FAULTS: entry {entry!r} has no numeric probability") from None
    return validate_faults(faults)


def validate_faults(faults: Mapping[str, float]) -> dict[str, float]:
    """Check names and ranges; return a plain dict copy."""
    checked: dict[str, float] = {}
    for name, probability in faults.items():
        if name not in FAULT_NAMES:
            raise ValueError(f"STANDIN_FAULTS: unknown fault {name!r}; known: {', '.join(FAULT_NAMES)}")
        value = float(probability)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"STANDIN_FAULTS: {name}={value} is not a probability in [0, 1]")
        checked[name] = value
    return checked


def validate_webhook_secret(secret: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` followed by base64 of at least 16 bytes."""
    prefix = "whsec_"
    if not secret.startswith(prefix):
        raise ValueError("STANDIN_WEBHOOK_SECRET must look like whsec_<base64>")
    try:
        key = base64.b64decode(secret[len(prefix) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("STANDIN_WEBHOOK_SECRET: the part after whsec_ is not base64") from exc
    if len(key) < 16:
        raise ValueError("STANDIN_WEBHOOK_SECRET: the key must be at least 16 bytes")
    return secret


@dataclass
class StandinSettings:
    """Settings of one stand-in instance (see the module docstring)."""

    port: int = 3100
    host: str = "127.0.0.1"
    latency_seconds: float = 0.5
    """Time from "processing" to the final state (the model itself runs after it)."""
    faults: dict[str, float] = field(default_factory=dict)
    seed: int | None = None
    webhook_secret: str | None = None
    """``whsec_<base64>``; ``None`` → a random secret is generated when the app is created."""
    public_url: str | None = None
    """Base of output URLs; ``None`` → ``http://{host}:{port}`` (127.0.0.1 for a wildcard host)."""
    api_token: str | None = None
    """When set, ``/v1/*`` requests need ``Authorization: Bearer <token>`` (or ``Token``)."""
    output_ttl_seconds: float = 3600.0
    """Outputs answer 404 this long after completion (Replicate deletes them after 1 h)."""
    webhook_retry_seconds: float = 60.0
    """Total time budget for retrying the ``completed`` webhook."""
    webhook_retry_initial_seconds: float = 0.5
    """First retry delay; doubles each time (0.5, 1, 2, 4, ...)."""
    webhook_timeout_seconds: float = 10.0
    slow_seconds: float = 2.0
    """Delay before the bytes of an output whose prediction drew the ``slow`` fault."""
    fetch_timeout_seconds: float = 15.0
    max_input_bytes: int = 25 * 1024 * 1024
    max_input_pixels: int = 40_000_000
    page_size: int = 100
    generation_workers: int = 2
    max_running: int = 0
    """0 (default): every prediction processes at once (Replicate as infinite hardware). N > 0:
    at most N predictions are processing (the latency, input downloads, generation); later ones
    stay "starting" until a slot frees, as on a busy Replicate, so completions come at most
    N / latency_seconds per second (chaos runs pace a 1,000-cell batch this way)."""
    max_downloads: int = 8
    """Input downloads at once (and the connections of their pool); others wait for a slot, and
    their timeout starts only once they have one. Unbounded, a 1,000-cell burst fetched every
    input at once and starved the connection pool (PoolTimeout failures of predictions that
    Replicate would not produce); 8 keeps a saturated 2-core host answering each in time."""
    webhook_senders: int = 16
    """Webhook deliveries in flight at once (and the connections of their pool): 16, so that the
    colour webhooks of a few angles finishing together go out together (with 8, a 3 x 3 batch's
    ninth waited for a whole delivery to finish). A delivery
    waits in a bounded queue for a sender, its timeout starting only when it is sent; retries
    of ``completed`` wait their backoff outside the queue, so a failing receiver cannot hold
    the senders. Nothing is dropped."""
    webhook_queue_size: int = 64
    """Deliveries waiting for a sender at most; beyond it the predictions that want to send
    wait (back-pressure) instead of growing a queue without bound."""
    create_limit_per_minute: int = 600
    """Replicate's create-prediction rate limit, per API token (0 = no limit): over it, 429
    with ``Retry-After``, as Replicate answers."""
    create_burst: int | None = None
    """Creates a token may make at once before being throttled; ``None`` → 10 seconds' worth
    of ``create_limit_per_minute`` (100 at 600/min)."""
    other_limit_per_minute: int = 3000
    """Replicate's limit for every other ``/v1`` endpoint (get, list, cancel, ...), per token."""
    other_burst: int | None = None
    """As ``create_burst``, for the other endpoints (``None`` → 10 seconds' worth: 500)."""
    remote: bool = False
    """Play the remote Replicate (``STANDIN_REMOTE=1``): inputs on loopback, private or other
    non-public addresses fail the prediction, and no webhook is sent (see ``files.py``)."""
    max_file_store_bytes: int = 512 * 1024 * 1024
    """Bytes of uploaded files held at most (the oldest are dropped first)."""

    def __post_init__(self) -> None:
        self.faults = validate_faults(self.faults)
        if self.webhook_secret is not None:
            validate_webhook_secret(self.webhook_secret)
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.max_running < 0 or self.max_downloads < 1:
            raise ValueError("max_running must be >= 0 (0 = unbounded) and max_downloads >= 1")
        if self.webhook_senders < 1 or self.webhook_queue_size < 1:
            raise ValueError("webhook_senders and webhook_queue_size must be at least 1")
        for name in ("create_limit_per_minute", "other_limit_per_minute"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (0 = no limit), got {getattr(self, name)}")
        for name in ("create_burst", "other_burst"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (or unset for 10 seconds' worth), got {value}")

    @property
    def output_base_url(self) -> str:
        """The base used for ``/delivery/...`` output URLs (no trailing slash)."""
        host = self.host if self.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        base = self.public_url or f"http://{host}:{self.port}"
        return base.rstrip("/")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StandinSettings:
        """Read ``STANDIN_*`` variables (``os.environ`` unless ``environ`` is given)."""
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(name)
            if value is None or not value.strip():
                return None
            return value.strip()

        def number(name: str, default: float) -> float:
            value = text(name)
            if value is None:
                return default
            try:
                return float(value)
            except ValueError:
                raise ValueError(f"{name} must be a number, got {value!r}") from None

        def integer(name: str, default: int | None) -> int | None:
            value = text(name)
            if value is None:
                return default
            try:
                return int(value)
            except ValueError:
                raise ValueError(f"{name} must be an integer, got {value!r}") from None

        def limit(name: str, default: int) -> int:
            value = integer(name, default)
            assert value is not None
            if value < 0:
                raise ValueError(f"{name} must be >= 0 requests per minute (0 turns the limit off), got {value}")
            return value

        def at_least_one(name: str, default: int) -> int:
            value = integer(name, default)
            assert value is not None
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
            return value

        def burst(name: str) -> int | None:
            value = integer(name, None)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 request (unset: 10 seconds' worth), got {value}")
            return value

        def flag(name: str) -> bool:
            value = (text(name) or "0").lower()
            if value not in ("0", "1", "true", "false", "yes", "no"):
                raise ValueError(f"{name} must be 1 or 0, got {value!r}")
            return value in ("1", "true", "yes")

        port = integer("STANDIN_PORT", 3100)
        assert port is not None
        return cls(
            port=port,
            host=text("STANDIN_HOST") or "127.0.0.1",
            latency_seconds=number("STANDIN_LATENCY_SECONDS", 0.5),
            faults=parse_faults(env.get("STANDIN_FAULTS")),
            seed=integer("STANDIN_SEED", None),
            webhook_secret=text("STANDIN_WEBHOOK_SECRET"),
            public_url=text("STANDIN_PUBLIC_URL"),
            api_token=text("STANDIN_API_TOKEN"),
            output_ttl_seconds=number("STANDIN_OUTPUT_TTL_SECONDS", 3600.0),
            webhook_retry_seconds=number("STANDIN_WEBHOOK_RETRY_SECONDS", 60.0),
            slow_seconds=number("STANDIN_SLOW_SECONDS", 2.0),
            max_running=integer("STANDIN_MAX_RUNNING", 0) or 0,
            max_downloads=at_least_one("STANDIN_MAX_DOWNLOADS", 8),
            webhook_senders=at_least_one("STANDIN_WEBHOOK_SENDERS", 16),
            create_limit_per_minute=limit("STANDIN_CREATE_LIMIT_PER_MINUTE", 600),
            create_burst=burst("STANDIN_CREATE_BURST"),
            other_limit_per_minute=limit("STANDIN_OTHER_LIMIT_PER_MINUTE", 3000),
            other_burst=burst("STANDIN_OTHER_BURST"),
            remote=flag("STANDIN_REMOTE"),
        )
