"""Presets fixtures: see tests/support/presets_fixtures.py."""

from tests.support.presets_fixtures import *  # noqa: F403 - pytest discovers the fixtures by name
