"""Secrets: a direct variable locally, else SSM through Powertools Parameters (decrypted, cached)."""

from __future__ import annotations

import os

_MAX_AGE_SECONDS = 300


def get_secret(direct_env: str, param_env: str) -> str:
    value = os.environ.get(direct_env)
    if value:
        return value
    name = os.environ.get(param_env)
    if not name:
        raise RuntimeError(f"neither {direct_env} nor {param_env} is configured")
    from aws_lambda_powertools.utilities import parameters  # boto3 with it: only where SSM is read

    return str(parameters.get_parameter(name, decrypt=True, max_age=_MAX_AGE_SECONDS))
