"""The pricing arithmetic: estimates, a batch's cost, rounding to cents."""

from __future__ import annotations

import pytest

from marketplace import pricing

pytestmark = pytest.mark.unit
NANO_BANANA = 0.039


@pytest.mark.parametrize(
    ("images", "expected"),
    [(0, 0.0), (1, 0.04), (2, 0.08), (10, 0.39), (6, 0.23), (1230, 47.97), (1_000_000, 39000.0)],
)
def test_given_a_number_of_images_when_costed_then_images_times_price_is_rounded_half_up_to_cents(images, expected):
    assert pricing.cost_usd(images, NANO_BANANA) == expected


def test_given_a_total_exactly_half_a_cent_when_costed_then_it_rounds_up_not_to_even():
    # 0.005 and 0.025 are ties: banker's rounding (and binary floats) would give 0.0 and 0.02.
    assert pricing.cost_usd(1, 0.005) == 0.01
    assert pricing.cost_usd(5, 0.005) == 0.03


def test_given_a_free_model_or_a_negative_count_when_costed_then_nothing_is_owed():
    assert pricing.cost_usd(100, 0) == 0.0
    assert pricing.cost_usd(-3, NANO_BANANA) == 0.0


@pytest.mark.parametrize(
    ("angles", "colors", "auto", "expected"),
    [(2, 2, True, 6), (2, 2, False, 2), (30, 40, True, 1230), (1, 0, True, 1)],
)
def test_given_a_batch_request_when_its_images_are_counted_then_one_per_angle_and_per_angle_colour(
        angles, colors, auto, expected):
    assert pricing.batch_images(angles, colors, auto) == expected


def test_given_a_price_when_the_views_are_built_then_they_carry_the_contract_fields():
    assert pricing.pricing(NANO_BANANA) == {"pricePerImageUsd": 0.039, "currency": "USD"}
    assert pricing.estimate(6, NANO_BANANA) == {"images": 6, "costUsd": 0.23}
    assert pricing.cost(9, 7, NANO_BANANA) == {"predictions": 9, "billedImages": 7, "costUsd": 0.27}
