"""StackConfig -> each deployed function's environment (shotwire_core.settings.function_environments, which
the local stack calls too, so a handler sees the same variables on moto and on AWS, and no others)."""

from __future__ import annotations

from shotwire_core.config import StackConfig
from shotwire_core.settings import environment_of

# Contract variables the CDK app deliberately leaves to the capture image (functions/capture/Dockerfile):
# Chromium's flags are baked in there, and Playwright finds its own bundled Chromium without a path.
SET_BY_IMAGE = frozenset({"SHOTWIRE_CHROMIUM_ARGS", "SHOTWIRE_CHROMIUM_PATH"})


def settings_environment(
    config: StackConfig,
    *,
    function: str,
    images_bucket: str,
    queue_urls: dict[str, str],
    egress_ips: str = "",
    api_url: str = "",
) -> dict[str, str]:
    """The environment of `function` (a directory name under functions/): names and limits every function
    shares, plus exactly the queue URLs (and egress IPs, API URL) that function is given."""
    # Deployed functions must never fetch private, loopback or link-local addresses (SSRF).
    return environment_of(
        function,
        config,
        images_bucket=images_bucket,
        allow_private_networks=False,
        queue_urls=queue_urls,
        egress_ips=egress_ips,
        api_url=api_url,
    )
