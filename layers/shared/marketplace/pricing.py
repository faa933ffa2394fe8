"""What images cost: the arithmetic of estimates and of a batch's cost (pure, standard library only,
so the CLI uses it too).

Replicate bills google/nano-banana per image it outputs, i.e. per *succeeded* prediction; a failed
or canceled prediction costs nothing. So an estimate counts the predictions a request will create,
and a batch's cost counts its succeeded images (every attempt: a regenerated cell is billed again).
Amounts are computed in decimal and rounded half up to whole cents once, on the total."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CURRENCY = "USD"
_CENT = Decimal("0.01")


def cost_usd(images: int, price_per_image_usd: float) -> float:
    """``images x price``, rounded half up to cents (``str(price)`` keeps 0.039 exact)."""
    total = Decimal(max(images, 0)) * Decimal(str(price_per_image_usd))
    return float(total.quantize(_CENT, rounding=ROUND_HALF_UP))


def batch_images(angles: int, colors: int, auto_colorize: bool = True) -> int:
    """Predictions a new batch creates: one per angle, plus one per angle and colour when the
    colours run with it (retries are not foreseen)."""
    return angles * (1 + (colors if auto_colorize else 0))


def pricing(price_per_image_usd: float) -> dict[str, Any]:
    """``GET /presets``' ``pricing``."""
    return {"pricePerImageUsd": price_per_image_usd, "currency": CURRENCY}


def estimate(images: int, price_per_image_usd: float) -> dict[str, Any]:
    """``{images, costUsd}``: what a request's new predictions will cost if every one succeeds."""
    return {"images": images, "costUsd": cost_usd(images, price_per_image_usd)}


def cost(predictions: int, billed_images: int, price_per_image_usd: float) -> dict[str, Any]:
    """``{predictions, billedImages, costUsd}``: a batch's predictions (retries included) and the
    succeeded images Replicate bills."""
    return {"predictions": predictions, "billedImages": billed_images,
            "costUsd": cost_usd(billed_images, price_per_image_usd)}
