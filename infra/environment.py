"""StackConfig -> the SHOTWIRE_* variables of the deployed functions (shotwire_core.settings.function_environment,
which the local stack calls too, so a handler sees identical settings on moto and on AWS)."""

from __future__ import annotations

from shotwire_core.config import StackConfig
from shotwire_core.settings import function_environment

# Contract variables the CDK app deliberately leaves to the capture image (functions/capture/Dockerfile):
# Chromium's flags are baked in there, and Playwright finds its own bundled Chromium without a path.
SET_BY_IMAGE = frozenset({"SHOTWIRE_CHROMIUM_ARGS", "SHOTWIRE_CHROMIUM_PATH"})


def settings_environment(
    config: StackConfig,
    *,
    images_bucket: str,
    queue_urls: dict[str, str] | None = None,
    egress_ips: str | None = None,
) -> dict[str, str]:
    """Names and limits every function shares, plus the queue URLs (and egress IPs) this function needs."""
    # Deployed functions must never fetch private, loopback or link-local addresses (SSRF).
    return function_environment(
        config,
        images_bucket=images_bucket,
        allow_private_networks=False,
        queue_urls=queue_urls,
        egress_ips=egress_ips,
    )
