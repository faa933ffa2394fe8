"""Clears every process-wide cache of the marketplace package (settings, clients, singletons)."""

from __future__ import annotations


def reset_marketplace_caches() -> None:
    from marketplace import aws, batches, config, notifier, repository

    config.get_settings.cache_clear()
    aws.reset_clients()
    repository.reset_repository()
    notifier.reset_notifier()
    batches._idempotent_create.cache_clear()
    batches._idempotency_config.cache_clear()
    try:
        from marketplace import presets

        presets.reset_presets_cache()
    except (ImportError, AttributeError):
        pass
    for module_name in ("predictions", "webhooks"):
        module = __import__(f"marketplace.{module_name}", fromlist=["_"])
        for attr in ("reset_client", "reset_caches"):
            if hasattr(module, attr):
                getattr(module, attr)()
