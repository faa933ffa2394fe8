"""The one reset of the marketplace package's process-wide caches: every fixture, helper and
test that changes the environment the package read calls it (`tests.support.handler_env`,
`tests.support.inprocess_stack`, ...), so a cache added to the package is added here, once."""

from __future__ import annotations


def reset_marketplace_caches(*, keep_aws_clients: bool = False) -> None:
    """Settings, the repository and notifier singletons, the idempotent create, the presets store,
    the Replicate clients, the colour check's decoded fed images and the boto3 clients: each is
    rebuilt from the environment on next use.

    `keep_aws_clients=True` keeps the boto3 clients (building one costs ~0.1 s): only for a suite
    whose every test has the same AWS environment (the workflow units, over `HANDLER_ENV`); moto
    intercepts a client whenever a mock is on, whenever the client was built.
    """
    from marketplace import aws, batches, config, notifier, predictions, presets, repository

    config.get_settings.cache_clear()
    if not keep_aws_clients:
        aws.reset_clients()
    repository.reset_repository()
    notifier.reset_notifier()
    batches._idempotent_create.cache_clear()
    batches._idempotency_config.cache_clear()
    presets.reset_presets_cache()
    predictions.reset_clients()
    from marketplace import handover

    handover.reset()
    from marketplace.archive import service as archive_service

    archive_service.lambda_client.cache_clear()
    from marketplace.color_check import service as color_check_service

    color_check_service._fed_images.cache_clear()
