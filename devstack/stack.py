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
        # No NAT gateways locally: GET /v1/meta/egress-ips answers static: false (export it to try the route).
        egress_ips="",
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


@dataclass(frozen=True)
class LocalFunction:
    """A deployed function as the local handlers see it: the name, memory and timeout of their context."""

    name: str
    memory_mb: int
    timeout_seconds: int

    def context(self) -> LocalContext:
        return LocalContext(
            function_name=self.name, memory_limit_in_mb=self.memory_mb, timeout_seconds=self.timeout_seconds
        )


def local_functions(config: StackConfig) -> dict[str, LocalFunction]:
    """Each function (by its directory under functions/) with the memory and timeout infra/ gives it."""
    return {
        "api": LocalFunction("shotwire-api", config.api_memory_mb, config.api_timeout_seconds),
        "capture": LocalFunction("shotwire-capture", config.capture_memory_mb, config.capture_timeout_seconds),
        "dispatcher": LocalFunction(
            "shotwire-dispatcher", config.dispatcher_memory_mb, config.dispatcher_timeout_seconds
        ),
    }


@dataclass(frozen=True)
class LocalEventSource:
    """What feeds a function locally: a queue a poller drains in batches, as a Lambda event source would."""

    name: str
    queue_url: str
    function: str  # a key of local_functions()
    batch_size: int
    # False: the queue stands in for an asynchronous invoke (the outcome rule's target), one event per message.
    as_sqs_event: bool = True
    workers: int = 1


def local_event_sources(config: StackConfig, resources: LocalResources) -> list[LocalEventSource]:
    return [
        LocalEventSource("shotwire-capture", resources.capture_queue_url, "capture", config.capture_batch_size),
        LocalEventSource(
            "shotwire-dispatcher-events", resources.outcome_tap_url, "dispatcher", batch_size=10, as_sqs_event=False
        ),
        LocalEventSource(
            "shotwire-dispatcher-retries",
            resources.webhook_retry_queue_url,
            "dispatcher",
            config.webhook_retry_batch_size,
            workers=2,  # Lambda's SQS event source keeps several batches in flight
        ),
    ]


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

        modules = {
            name: load_function(FUNCTIONS / name / "handler.py", f"shotwire_fn_{name}")
            for name in ("api", "capture", "dispatcher")
        }
        functions = local_functions(config)
        self.pollers = [
            QueuePoller(
                source.name,
                source.queue_url,
                queue_arn(source.queue_url),
                modules[source.function].lambda_handler,
                functions[source.function].context,
                batch_size=source.batch_size,
                region=REGION,
                as_sqs_event=source.as_sqs_event,
                # The capture function closes its browser when its poller stops.
                on_exit=getattr(modules[source.function], "shutdown", None),
                workers=source.workers,
            )
            for source in local_event_sources(config, self.resources)
        ]
        for poller in self.pollers:
            poller.start()
        self.gateway = ApiGateway(
            self.options.host,
            self.options.api_port,
            modules["api"].lambda_handler,
            functions["api"].context,
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
