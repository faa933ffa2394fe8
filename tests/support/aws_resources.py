"""moto resources for in-process tests, made by the local stack's own template reader and
provisioner (`local_stack.template.Template`, `local_stack.provision`), so tests use the table,
bucket and state machine shapes we deploy and template.yaml has one reader.

Call inside `mock_aws()`. The unit tests' table and bucket keep their short names (`TABLE`,
`BUCKET`, what `tests.support.handler_env.HANDLER_ENV` hands the handlers); the state machine has
the template's own name and ARN for stack `STACK_NAME`. For the template as plain dicts use
`local_stack.template.load_template(TEMPLATE_PATH)`.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from local_stack import provision
from local_stack.template import Template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "template.yaml"
STACK_NAME = "car-marketplace-test"
TABLE = "marketplace-test"
BUCKET = "marketplace-test-assets"
STATE_MACHINE = "BatchStateMachine"
_ROLE_ARN = "arn:aws:iam::123456789012:role/test"  # moto does not look the role up


@functools.cache
def unit_template() -> Template:
    """template.yaml resolved for stack `STACK_NAME` (parameters' defaults, us-east-1)."""
    return Template.load(TEMPLATE_PATH, stack_name=STACK_NAME)


def state_machine_arn() -> str:
    return unit_template().arn(STATE_MACHINE)


def create_table_from_template(client: Any, table_name: str = TABLE, logical_id: str = "MarketplaceTable") -> str:
    """The DynamoDB table as template.yaml declares it (keys, GSIs, TTL)."""
    return provision.create_table(client, unit_template(), logical_id, name=table_name)


def create_bucket_from_template(client: Any, bucket_name: str = BUCKET, logical_id: str = "AssetsBucket") -> str:
    """The S3 bucket with template.yaml's CORS rules."""
    return provision.create_bucket(client, unit_template(), logical_id, [], name=bucket_name)


def create_state_machine_from_template(client: Any, logical_id: str = STATE_MACHINE) -> str:
    """The state machine with its real definition (DefinitionSubstitutions applied); it runs only
    where moto's `stepfunctions.execute_state_machine` is on."""
    return provision.create_state_machine(client, unit_template(), logical_id, ROOT, _ROLE_ARN)
