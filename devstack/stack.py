"""Start and stop the whole local stack in this process."""

from __future__ import annotations

import itertools
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from devstack.gateway import ApiGateway
from devstack.options import ACCOUNT, DEV_TENANT_ID, REGION, DevOptions
from devstack.resources import LocalResources, provision, queue_arn
from devstack.runtime import LocalContext, QueuePoller, load_function
from shotwire_core.config import StackConfig, load_stack_config
from shotwire_core.settings import function_environment

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "functions"


def handler_environment(options: DevOptions, resources: LocalResources, config: StackConfig) -> dict[str, str]:
    """The variables the handlers read: the same function the CDK app uses for the deployed functions.

    Tunables the developer exported (a shorter retry schedule, say) win over the config's values;
    resource names and queue URLs always point at what was just created on moto.
    """
    queue_urls = resources.queue_urls()
    stack_env = function_environment(
        config,
        images_bucket=resources.bucket,
        allow_private_networks=options.allow_private_networks,
        queue_urls=queue_urls,
    )
    # What names a resource, and the private-network switch (already read into `options`), is not tunable.
    pinned = {
        "SHOTWIRE_JOBS_TABLE",
        "SHOTWIRE_KEYS_TABLE",
        "SHOTWIRE_IDEMPOTENCY_TABLE",
        "SHOTWIRE_EVENT_BUS_NAME",
        "SHOTWIRE_IMAGES_BUCKET",
        "SHOTWIRE_ALLOW_PRIVATE_NETWORKS",
        *queue_urls,
    }
    env = {name: value if name in pinned else os.environ.get(name) or value for name, value in stack_env.items()}
    env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon locally
    env["POWERTOOLS_SERVICE_NAME"] = "shotwire"
    if options.chromium_path:
        env["SHOTWIRE_CHROMIUM_PATH"] = options.chromium_path
    return env


@dataclass
class LocalStack:
    options: DevOptions
    moto: ThreadedMotoServer | None = None
    gateway: ApiGateway | None = None
    pollers: list[QueuePoller] = field(default_factory=list)
    _api_environments: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    resources: LocalResources | None = None

    def start(self) -> None:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
            os.environ.pop(name, None)
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")  # no EMF blobs on the dev console
        # Requests that record no metric (a GET) would warn on every call.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every AWS call otherwise
        self.moto = ThreadedMotoServer(ip_address=self.options.host, port=self.options.moto_port, verbose=False)
        self.moto.start()
        os.environ.update(
            {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": self.options.moto_url,
            }
        )
        config = load_stack_config()
        self.resources = provision(config, REGION, ACCOUNT)
        os.environ.update(handler_environment(self.options, self.resources, config))
        self._seed_dev_tenant()

        api = load_function(FUNCTIONS / "api" / "handler.py", "shotwire_fn_api")
        capture = load_function(FUNCTIONS / "capture" / "handler.py", "shotwire_fn_capture")
        dispatcher = load_function(FUNCTIONS / "dispatcher" / "handler.py", "shotwire_fn_dispatcher")

        def context_for(name: str, memory: int, timeout: int) -> LocalContext:
            return LocalContext(function_name=name, memory_limit_in_mb=memory, timeout_seconds=timeout)

        res = self.resources
        self.pollers = [
            QueuePoller(
                "shotwire-capture",
                res.capture_queue_url,
                queue_arn(res.capture_queue_url),
                capture.lambda_handler,
                lambda: context_for("shotwire-capture", config.capture_memory_mb, config.capture_timeout_seconds),
                batch_size=config.capture_batch_size,
                region=REGION,
                on_exit=capture.shutdown,
            ),
            QueuePoller(
                "shotwire-dispatcher-events",
                res.outcome_tap_url,
                queue_arn(res.outcome_tap_url),
                dispatcher.lambda_handler,
                lambda: context_for(
                    "shotwire-dispatcher", config.dispatcher_memory_mb, config.dispatcher_timeout_seconds
                ),
                batch_size=10,
                region=REGION,
                as_sqs_event=False,
            ),
            QueuePoller(
                "shotwire-dispatcher-retries",
                res.webhook_retry_queue_url,
                queue_arn(res.webhook_retry_queue_url),
                dispatcher.lambda_handler,
                lambda: context_for(
                    "shotwire-dispatcher", config.dispatcher_memory_mb, config.dispatcher_timeout_seconds
                ),
                batch_size=config.webhook_retry_batch_size,
                region=REGION,
                workers=2,  # Lambda's SQS event source keeps several batches in flight
            ),
        ]
        for poller in self.pollers:
            poller.start()
        self.gateway = ApiGateway(
            self.options.host,
            self.options.api_port,
            api.lambda_handler,
            lambda: context_for("shotwire-api", config.api_memory_mb, config.api_timeout_seconds),
            spawn=self._api_environment,
        )
        self.gateway.start()

    def _api_environment(self) -> Any:
        """Another execution environment of the API function: its module imported afresh (own resolver)."""
        number = next(self._api_environments)
        module = load_function(FUNCTIONS / "api" / "handler.py", f"shotwire_fn_api_{number}")
        return module.lambda_handler

    def _seed_dev_tenant(self) -> None:
        from shotwire_core.adapters.dynamo import KeyTable
        from shotwire_core.models import TenantLimits
        from shotwire_core.settings import get_settings
        from shotwire_core.tenants import create_tenant

        create_tenant(
            KeyTable(get_settings().keys_table),
            "Local developer",
            # Room for load tests and benches on one machine; tenants made with the admin CLI get the defaults.
            TenantLimits(requests_per_second=1000, burst=2000, monthly_quota=10_000_000),
            tenant_id=DEV_TENANT_ID,
            webhook_secret=self.options.webhook_secret,
            api_key=self.options.api_key,
        )

    def stop(self) -> None:
        """Stop serving, let each poller finish its batch (the capture one closes Chromium), stop moto."""
        if self.gateway is not None:
            self.gateway.stop()
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=60)
        if self.moto is not None:
            self.moto.stop()
