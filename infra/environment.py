"""StackConfig -> each deployed function's environment, made from the function's settings model
(shotwire_core.settings.environment_of, which the local stack calls too), so a handler sees the same variables
on moto and on AWS, and exactly the ones it reads."""

from __future__ import annotations

from shotwire_core.config import StackConfig
from shotwire_core.settings import Given, Settings, environment_of, variables

# Settings the CDK app deliberately leaves to the capture image (functions/capture/Dockerfile): Chromium's flags
# are baked in there, and Playwright finds its own bundled Chromium without a path.
SET_BY_IMAGE = frozenset(variables(Settings, Given.IMAGE))


def settings_environment(
    config: StackConfig,
    *,
    function: str,
    images_bucket: str,
    queue_urls: dict[str, str],
    egress_ips: str = "",
    api_url: str = "",
) -> dict[str, str]:
    """The environment of `function` (a directory name under functions/): the variables of its settings model,
    the bucket, queue URLs, egress IPs and API URL among them only if the model has them."""
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
