"""The process environment the handlers run with: the union of the template's function
environments, then the local overrides (endpoints, secrets, dev mode), then the caller's."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from .poller import STANDIN, target_environment

# Variables a developer may set in the shell to change the local stack's behaviour; the shell's
# value wins over the local default for these.
SHELL_OVERRIDABLE = (
    "GLOBAL_PROMPTS_CSV_URL",
    "ANGLE_PRESETS_CSV_URL",
    "COLOR_PRESETS_CSV_URL",
    "PRESETS_CACHE_SECONDS",
    "POWERTOOLS_LOG_LEVEL",
    "SOURCE_URL_ALLOWED_HOSTS",
    "PUBLIC_ASSET_BASE_URL",
    "STANDIN_LATENCY_SECONDS",
    "STANDIN_FAULTS",
    "STANDIN_CREATE_LIMIT_PER_MINUTE",
    "STANDIN_CREATE_BURST",
    "STANDIN_OTHER_LIMIT_PER_MINUTE",
    "STANDIN_OTHER_BURST",
    "STANDIN_MAX_DOWNLOADS",
    # The product's pacing (template parameters ReplicateCreatesPerMinute / ReplicateCreateBurst).
    "REPLICATE_CREATES_PER_MINUTE",
    "REPLICATE_CREATE_BURST",
)


@dataclass(frozen=True)
class LocalSecrets:
    replicate_api_token: str
    webhook_secret: str
    ticket_secret: str

    @classmethod
    def generate(cls) -> LocalSecrets:
        return cls(
            replicate_api_token="r8_local_" + secrets.token_hex(16),
            webhook_secret="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            ticket_secret=secrets.token_urlsafe(32),
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LocalSecrets:
        """Random secrets, except those a caller chose (tests that must know them, e.g. to sign
        webhooks or to prove they never reach a log): ``LOCAL_REPLICATE_API_TOKEN``,
        ``LOCAL_WEBHOOK_SECRET`` (``whsec_<base64>``), ``LOCAL_TICKET_SECRET``. Distinct names,
        so a developer's real ``REPLICATE_API_TOKEN`` in the shell is never picked up."""
        generated = cls.generate()
        webhook_secret = env.get("LOCAL_WEBHOOK_SECRET") or generated.webhook_secret
        if not webhook_secret.startswith("whsec_"):
            raise ValueError("LOCAL_WEBHOOK_SECRET must look like whsec_<base64>")
        return cls(
            replicate_api_token=env.get("LOCAL_REPLICATE_API_TOKEN") or generated.replicate_api_token,
            webhook_secret=webhook_secret,
            ticket_secret=env.get("LOCAL_TICKET_SECRET") or generated.ticket_secret,
        )


def local_environment(
    template_env: Mapping[str, str],
    *,
    host: str,
    port: int,
    standin_port: int,
    moto_port: int,
    secrets_: LocalSecrets,
    shell: Mapping[str, str],
    overrides: Mapping[str, str] | None = None,
    replicate_target: str = STANDIN,
) -> dict[str, str | None]:
    """The variables to set (value) or unset (None) before any handler runs; ``replicate_target``
    (``poller.TARGETS``) says which Replicate the handlers talk to and how."""
    base = f"http://{host}:{port}"
    standin = f"http://{host}:{standin_port}"
    env: dict[str, str | None] = dict(template_env)
    env.update(
        {
            "DEV_MODE": "true",
            "AWS_ENDPOINT_URL": f"http://{host}:{moto_port}",
            "MOTO_PORT": str(moto_port),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": None,
            "AWS_SECURITY_TOKEN": None,
            "AWS_PROFILE": None,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "WEBSOCKET_URL": f"ws://{host}:{port}/ws",
            "WEBSOCKET_MANAGEMENT_URL": base,
            "WEBHOOK_URL": f"{base}/webhooks/replicate",
            "GLOBAL_PROMPTS_CSV_URL": f"{base}/_local/presets/global_prompts.csv",
            "ANGLE_PRESETS_CSV_URL": f"{base}/_local/presets/angle_presets.csv",
            "COLOR_PRESETS_CSV_URL": f"{base}/_local/presets/color_presets.csv",
            "REPLICATE_BASE_URL": standin,
            "REPLICATE_API_TOKEN": secrets_.replicate_api_token,
            "WEBHOOK_SECRETS": secrets_.webhook_secret,
            "TICKET_SECRET": secrets_.ticket_secret,
            "REPLICATE_OUTPUT_HOSTS": f"{host}:{standin_port}",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "STANDIN_PORT": str(standin_port),
            "STANDIN_HOST": host,
            "STANDIN_API_TOKEN": secrets_.replicate_api_token,
            "STANDIN_WEBHOOK_SECRET": secrets_.webhook_secret,
        }
    )
    env.update(target_environment(replicate_target, shell))
    # A developer's HTTP proxy must not see the stack's own calls.
    for key in ("NO_PROXY", "no_proxy"):
        existing = [h for h in (shell.get(key) or "").split(",") if h.strip()]
        env[key] = ",".join(dict.fromkeys([*existing, host, "localhost"]))
    for key in SHELL_OVERRIDABLE:
        if shell.get(key):
            env[key] = shell[key]
    env.update(overrides or {})
    # A direct value wins over its SSM parameter name: drop the `*_PARAM` twin.
    for key in list(env):
        if key.endswith("_PARAM") and env.get(key[: -len("_PARAM")]):
            env[key] = None
    return env
