"""StackConfig -> the SHOTWIRE_* variables that `shotwire_core.settings.Settings.from_env` reads.

The local stack sets the same variables from the same StackConfig, so a handler sees identical settings
on moto and on AWS.
"""

from __future__ import annotations

from shotwire_core.config import StackConfig
from shotwire_core.settings import ENV_VARS

# Contract variables the CDK app deliberately leaves to the capture image (functions/capture/Dockerfile):
# Chromium's flags are baked in there, and Playwright finds its own bundled Chromium without a path.
SET_BY_IMAGE = frozenset({"SHOTWIRE_CHROMIUM_ARGS", "SHOTWIRE_CHROMIUM_PATH"})


def settings_environment(
    config: StackConfig,
    *,
    images_bucket: str,
    queue_urls: dict[str, str] | None = None,
) -> dict[str, str]:
    """Names and limits every function shares, plus the queue URLs this function needs."""
    env = {
        "SHOTWIRE_JOBS_TABLE": config.jobs_table,
        "SHOTWIRE_KEYS_TABLE": config.keys_table,
        "SHOTWIRE_IMAGES_BUCKET": images_bucket,
        "SHOTWIRE_EVENT_BUS_NAME": config.event_bus,
        # Deployed functions must never fetch private, loopback or link-local addresses (SSRF).
        "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "0",
        "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": ",".join(str(wait) for wait in config.webhook_retry_schedule),
        "SHOTWIRE_WEBHOOK_CONNECT_TIMEOUT_SECONDS": str(config.webhook_connect_timeout_seconds),
        "SHOTWIRE_WEBHOOK_TIMEOUT_SECONDS": str(config.webhook_timeout_seconds),
        "SHOTWIRE_DOWNLOAD_URL_TTL_SECONDS": str(config.download_url_ttl_seconds),
        "SHOTWIRE_CAPTURE_TIMEOUT_MS": str(config.capture_job_timeout_ms),
        "SHOTWIRE_CAPTURE_MAX_RECEIVE_COUNT": str(config.capture_max_receive_count),
        "SHOTWIRE_MAX_VIEWPORT": str(config.max_viewport),
        # Jobs expire (DynamoDB TTL) together with their images (bucket lifecycle rule).
        "SHOTWIRE_RETENTION_DAYS": str(config.image_retention_days),
        **(queue_urls or {}),
    }
    unknown = sorted(set(env) - set(ENV_VARS))
    if unknown:
        raise ValueError(f"not part of the settings contract (shotwire_core.settings.ENV_VARS): {unknown}")
    return env
