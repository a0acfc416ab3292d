"""Start and stop the whole local stack in this process."""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.server import ThreadedMotoServer

from devstack.fonts import fontconfig_environment
from devstack.gateway import ApiGateway
from devstack.image import image_environment
from devstack.lambdas import FunctionSpec, LocalFunction, lambda_variables
from devstack.options import ACCOUNT, DEV_TENANT_ID, REGION, DevOptions
from devstack.resources import LocalResources, provision, queue_arn
from devstack.runtime import QueuePoller
from shotwire_core.config import StackConfig, load_stack_config
from shotwire_core.settings import SETTINGS_MODELS, FromStack, env_name, function_environments, source_of

# What a developer may export to override a function's value (a shorter retry schedule, say): the limits StackConfig
# holds as fields, and the egress IPs (none locally; exported, GET /v1/meta/egress-ips lists them). Not what names
# a resource (tables, bus, secret, bucket, queues), the private-network switch (already read into DevOptions) or
# the API's URL (the SDK and CLI read SHOTWIRE_API_URL too, and a developer may export the deployed API's).
TUNABLE = frozenset(
    {
        env_name("egress_ips"),
        *(
            env_name(name)
            for model in SETTINGS_MODELS.values()
            for name, field in model.model_fields.items()
            if isinstance(source := source_of(field, name), FromStack) and source.attribute in StackConfig.model_fields
        ),
    }
)


def handler_environments(
    options: DevOptions, resources: LocalResources, config: StackConfig
) -> dict[str, dict[str, str]]:
    """Each function's variables: exactly what the template gives it (the same function_environments the CDK
    app calls), and for the capture function the image's own ENV (its Dockerfile) on top, as in Lambda.

    Tunables the developer exported (a shorter retry schedule, say) win over the config's values, but only
    for variables the function has: exporting one gives no function a variable its template lacks.
    Local stand-ins: the Chromium `make dev` found (the image's Playwright finds its own)."""
    environments = function_environments(
        config,
        images_bucket=resources.bucket,
        allow_private_networks=options.allow_private_networks,
        queue_urls=resources.queue_urls(),
        # No NAT gateways locally: GET /v1/meta/egress-ips answers static: false (export it to try the route).
        egress_ips="",
        # Webhooks link to images through the local gateway, as the deployed dispatcher links through the API.
        api_url=options.api_url,
    )
    for env in environments.values():
        for name in env:
            if name in TUNABLE and os.environ.get(name):
                env[name] = os.environ[name]
    environments["capture"].update(image_environment())
    if options.chromium_path:
        environments["capture"]["SHOTWIRE_CHROMIUM_PATH"] = options.chromium_path
    return environments


def local_variables(options: DevOptions) -> dict[str, str]:
    """What every local environment needs beside its function's variables: moto instead of AWS."""
    return {
        "AWS_ENDPOINT_URL": options.moto_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # The developer's ~/.aws files must not reach the functions (a profile, a region, an endpoint).
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        # Requests that record no metric (a GET) would warn on every call.
        "PYTHONWARNINGS": "ignore:No application metrics to publish",
    }


# Execution environments a function may have at once locally (Lambda scales further; one machine won't).
MAX_ENVIRONMENTS = {"api": 10, "capture": 2, "dispatcher": 12}


def function_specs(
    config: StackConfig, environments: dict[str, dict[str, str]], *, sandboxed: bool
) -> dict[str, FunctionSpec]:
    """Each function (by its directory under functions/) with the memory and timeout infra/ gives it."""
    sizes = {
        "api": (config.api_memory_mb, config.api_timeout_seconds),
        "capture": (config.capture_memory_mb, config.capture_timeout_seconds),
        "dispatcher": (config.dispatcher_memory_mb, config.dispatcher_timeout_seconds),
    }
    return {
        key: FunctionSpec(
            key=key,
            name=f"{config.prefix}-{key}",
            memory_mb=memory,
            timeout_seconds=timeout,
            environment=environments[key],
            max_environments=MAX_ENVIRONMENTS[key],
            sandboxed=sandboxed,
        )
        for key, (memory, timeout) in sizes.items()
    }


@dataclass(frozen=True)
class LocalEventSource:
    """What feeds a function locally: a queue a poller drains in batches, as a Lambda event source would."""

    name: str
    queue_url: str
    function: str  # a key of function_specs()
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
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    resources: LocalResources | None = None

    def start(self) -> None:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ENDPOINT_URL_S3"):
            os.environ.pop(name, None)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every AWS call otherwise
        self.moto = ThreadedMotoServer(ip_address=self.options.host, port=self.options.moto_port, verbose=False)
        self.moto.start()
        # This process (provisioning, the pollers) talks to moto; the functions get their own variables.
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
        environments = handler_environments(self.options, self.resources, config)
        # The capture image's fonts (outline emoji stripped, devstack/fonts.py), prepared here: the sandboxed
        # environments cannot write the font cache.
        environments["capture"].update(fontconfig_environment())
        self._seed_dev_tenant(config)

        specs = function_specs(config, environments, sandboxed=self.options.sandbox)
        shared = local_variables(self.options)
        self.functions = {
            key: LocalFunction(spec, {**lambda_variables(spec, REGION), **shared, **spec.environment})
            for key, spec in specs.items()
        }
        # One warm environment each before the stack says it is ready (they start side by side).
        warming = [threading.Thread(target=function.warm) for function in self.functions.values()]
        for thread in warming:
            thread.start()
        for thread in warming:
            thread.join()
        self.pollers = [
            QueuePoller(
                source.name,
                source.queue_url,
                queue_arn(source.queue_url),
                self.functions[source.function].invoke,
                batch_size=source.batch_size,
                region=REGION,
                as_sqs_event=source.as_sqs_event,
                workers=source.workers,
                # Asynchronous events run as far as the function's environments go, as Lambda scales out.
                concurrency=MAX_ENVIRONMENTS[source.function],
            )
            for source in local_event_sources(config, self.resources)
        ]
        for poller in self.pollers:
            poller.start()
        self.gateway = ApiGateway(self.options.host, self.options.api_port, self.functions["api"].invoke)
        self.gateway.start()

    def _seed_dev_tenant(self, config: StackConfig) -> None:
        from shotwire_core.adapters.dynamo import KeyTable
        from shotwire_core.models import TenantLimits
        from shotwire_core.tenants import create_tenant

        create_tenant(
            KeyTable(config.keys_table),
            "Local developer",
            # Room for load tests and benches on one machine; tenants made with the admin CLI get the defaults.
            TenantLimits(requests_per_second=1000, burst=2000, monthly_quota=10_000_000),
            tenant_id=DEV_TENANT_ID,
            webhook_secret=self.options.webhook_secret,
            api_key=self.options.api_key,
        )

    def report(self) -> dict[str, Any]:
        """What each function's environments did: cold starts, timeouts, the most /tmp one used."""
        return {
            key: {
                "coldStarts": function.cold_starts,
                "timeouts": function.timeouts,
                "maxTmpBytes": function.max_tmp_bytes,
                "sandboxed": function.spec.sandboxed,
            }
            for key, function in self.functions.items()
        }

    def stop(self) -> None:
        """Stop serving, let each poller finish its batch, close the functions (Chromium with them), stop moto."""
        if self.gateway is not None:
            self.gateway.stop()
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(timeout=60)
        report_path = os.environ.get("SHOTWIRE_LOCAL_REPORT")
        if report_path and self.functions:
            Path(report_path).write_text(json.dumps(self.report(), indent=2), encoding="utf-8")
        for function in self.functions.values():
            function.close()
        if self.moto is not None:
            self.moto.stop()
