"""Environment as a validated model, read once per cold start (tests clear the cache)."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, Field, field_validator

TICKET_TTL_SECONDS = 60
MAX_TICKET_TTL_SECONDS = 3600


def _ticket_ttl(raw: str | None) -> int:
    """``TICKET_TTL_SECONDS`` (1..3600; tests shorten it to watch a ticket expire), else 60."""
    try:
        value = int((raw or "").strip())
    except ValueError:
        return TICKET_TTL_SECONDS
    return min(max(value, 1), MAX_TICKET_TTL_SECONDS)


def _csv_list(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip().lower() for part in (value or "").split(",") if part.strip())


class Settings(BaseModel):
    table_name: str = Field(min_length=1)
    bucket_name: str = ""  # only the functions that touch S3 get BUCKET_NAME
    state_machine_arn: str = ""
    websocket_url: str = ""
    websocket_management_url: str = ""
    webhook_url: str = ""
    global_prompts_csv_url: str = ""
    angle_presets_csv_url: str = ""
    color_presets_csv_url: str = ""
    presets_cache_seconds: int = Field(default=60, ge=0)
    replicate_base_url: str | None = None
    replicate_output_hosts: tuple[str, ...] = ()
    source_url_allowed_hosts: tuple[str, ...] = ()
    public_asset_base_url: str | None = None
    dev_mode: bool = False
    aws_endpoint_url: str | None = None
    reconcile_after_seconds: int = Field(default=90, ge=0)
    reconcile_max_cells: int = Field(default=200, ge=1)
    ticket_ttl_seconds: int = Field(default=TICKET_TTL_SECONDS, ge=1, le=MAX_TICKET_TTL_SECONDS)
    # Replicate's create limit (600 a minute per account); 0 turns the product's pacing off.
    replicate_creates_per_minute: int = Field(default=600, ge=0)
    # Creates that may go at once after a quiet spell (Replicate allows short bursts).
    replicate_create_burst: int = Field(default=50, ge=0)
    # The ZIP export's builder Lambda (the API invokes it asynchronously).
    archive_function_name: str = ""
    # What Replicate bills per succeeded image (google/nano-banana: $0.039); estimates and costs.
    price_per_image_usd: float = Field(default=0.039, ge=0, allow_inf_nan=False)
    # The colour check: a colour cell whose body paint is further than this (CIEDE2000) from its
    # target is "off" (docs/ARCHITECTURE.md, "The colour check", says why 10).
    color_check_max_delta_e: float = Field(default=10.0, gt=0, le=100, allow_inf_nan=False)
    # How this stack's own objects (uploads, an angle's PNG) reach Replicate: "url" (presigned S3
    # GETs, the deployed product) or "files" (uploaded through Replicate's Files API: a laptop's
    # S3 is on an address Replicate cannot reach). See docs/ARCHITECTURE.md, "Laptop mode".
    replicate_input_handover: Literal["url", "files"] = "url"
    # How a prediction's end is learnt: "webhook" (Replicate calls WEBHOOK_URL; the reconciler
    # polls what it missed) or "poll" (no webhook is given: nothing public can receive it; the
    # reconciler polls every pending cell through Replicate's prediction list).
    replicate_completion: Literal["webhook", "poll"] = "webhook"

    @field_validator("replicate_base_url", "public_asset_base_url", "aws_endpoint_url")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            table_name=env.get("TABLE_NAME", ""),
            bucket_name=env.get("BUCKET_NAME", ""),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            websocket_url=env.get("WEBSOCKET_URL", ""),
            websocket_management_url=env.get("WEBSOCKET_MANAGEMENT_URL", ""),
            webhook_url=env.get("WEBHOOK_URL", ""),
            global_prompts_csv_url=env.get("GLOBAL_PROMPTS_CSV_URL", ""),
            angle_presets_csv_url=env.get("ANGLE_PRESETS_CSV_URL", ""),
            color_presets_csv_url=env.get("COLOR_PRESETS_CSV_URL", ""),
            presets_cache_seconds=int(env.get("PRESETS_CACHE_SECONDS", "60") or 60),
            replicate_base_url=env.get("REPLICATE_BASE_URL"),
            replicate_output_hosts=_csv_list(env.get("REPLICATE_OUTPUT_HOSTS")),
            source_url_allowed_hosts=_csv_list(env.get("SOURCE_URL_ALLOWED_HOSTS")),
            public_asset_base_url=env.get("PUBLIC_ASSET_BASE_URL"),
            dev_mode=env.get("DEV_MODE", "").strip().lower() == "true",
            aws_endpoint_url=env.get("AWS_ENDPOINT_URL"),
            reconcile_after_seconds=int(env.get("RECONCILE_AFTER_SECONDS", "90") or 90),
            reconcile_max_cells=int(env.get("RECONCILE_MAX_CELLS", "200") or 200),
            ticket_ttl_seconds=_ticket_ttl(env.get("TICKET_TTL_SECONDS")),
            replicate_creates_per_minute=int(env.get("REPLICATE_CREATES_PER_MINUTE", "600") or 0),
            replicate_create_burst=int(env.get("REPLICATE_CREATE_BURST", "50") or 0),
            archive_function_name=env.get("ARCHIVE_FUNCTION_NAME", ""),
            price_per_image_usd=float(env.get("PRICE_PER_IMAGE_USD", "0.039") or 0.039),
            color_check_max_delta_e=float(env.get("COLOR_CHECK_MAX_DELTA_E", "10") or 10),
            replicate_input_handover=(env.get("REPLICATE_INPUT_HANDOVER") or "url").strip().lower(),  # type: ignore[arg-type]
            replicate_completion=(env.get("REPLICATE_COMPLETION") or "webhook").strip().lower(),  # type: ignore[arg-type]
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environ()
