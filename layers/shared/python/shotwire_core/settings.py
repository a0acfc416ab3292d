"""Runtime settings: one model per function, declaring exactly what that function's code reads.

Each field is written once, here: its type and bounds (the bounds `StackConfig` shares come from
shotwire_core.config), its variable (`SHOTWIRE_` + the field's name in capitals) and where the template gets its
value (`StackConfig.<field name>` unless marked otherwise). The template's environment of each function and the
local stack's are made from the function's model (`environment_of`), and the function reads the same model back
at cold start (`get_settings`): a setting is added as one field, and a function gets no variable it does not read.
Unset or empty variables fall back to the defaults, which are `StackConfig`'s.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Self, TypeVar

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.fields import FieldInfo

from shotwire_core.config import (
    METRICS_NAMESPACE,
    CaptureConcurrency,
    CaptureJobTimeoutMs,
    CircuitFailureThreshold,
    CircuitHoldSeconds,
    DownloadUrlTtlSeconds,
    MaxInFlightPerDestination,
    ReceiveCount,
    RetentionDays,
    RetrySchedule,
    SecretOverlapSeconds,
    StackConfig,
    WebhookTimeoutSeconds,
)

_DEFAULTS = StackConfig()
ENV_PREFIX = "SHOTWIRE_"
SERVICE_PREFIX = "shotwire"


def env_name(field: str) -> str:
    """The variable a setting is read from: SHOTWIRE_ and the field's name in capitals."""
    return ENV_PREFIX + field.upper()


@dataclass(frozen=True)
class FromStack:
    """Marks a field whose value the template takes from a `StackConfig` attribute of another name (without the
    mark, the attribute of the field's own name)."""

    attribute: str


class Given(enum.Enum):
    """Marks a field whose value does not come from `StackConfig`."""

    # Named by the deployment (the bucket, the API's URL, the Elastic IPs): at synth a CDK token, passed through.
    RESOURCE = "resource"
    # A queue URL (a resource too); a function gets exactly the queues its model names.
    QUEUE = "queue"
    # The private-network switch: off deployed, on by default locally.
    SWITCH = "switch"
    # Not the template's: the capture image sets it (its Dockerfile's ENV), or the local stack does.
    IMAGE = "image"


Source = FromStack | Given


class FunctionSettings(BaseModel):
    """What every function reads: the jobs table (jobs, and the webhook destinations' health under '#hosts') and
    what it may connect to."""

    model_config = ConfigDict(frozen=True, alias_generator=env_name, populate_by_name=True)

    jobs_table: str = _DEFAULTS.jobs_table
    allow_private_networks: Annotated[bool, Given.SWITCH] = False
    # host:port pairs reachable even when private networks are blocked (e.g. a staging site, a receiver).
    allowed_hosts: frozenset[str] = frozenset()

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_ports(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, Iterable):
            entries = [str(entry).strip().lower() for entry in value if str(entry).strip()]
            for entry in entries:
                host, _, port = entry.rpartition(":")
                if not host or not port.isdigit():
                    raise ValueError(f"SHOTWIRE_ALLOWED_HOSTS entries must be host:port, got {entry!r}")
            return frozenset(entries)
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        env = os.environ if environ is None else environ
        names = (env_name(field) for field in cls.model_fields)
        return cls.model_validate({name: env[name] for name in names if env.get(name, "") != ""})


class CaptureJobSettings(FunctionSettings):
    """Read by the functions that queue capture jobs and run them (the API, the capture function)."""

    images_bucket: Annotated[str, Given.RESOURCE] = ""
    # The API queues jobs; the capture function shortens a failed capture's redelivery (ChangeMessageVisibility).
    capture_queue_url: Annotated[str, Given.QUEUE] = ""


class WebhookSettings(FunctionSettings):
    """Read by the functions that send webhooks (the dispatcher; the API's test events and redeliveries), whose
    payloads link to images."""

    keys_table: str = _DEFAULTS.keys_table
    # The dispatcher schedules retries there; the API's `redeliver` queues a new delivery's first attempt.
    webhook_retry_queue_url: Annotated[str, Given.QUEUE] = ""
    webhook_connect_timeout_seconds: WebhookTimeoutSeconds = _DEFAULTS.webhook_connect_timeout_seconds
    webhook_timeout_seconds: WebhookTimeoutSeconds = _DEFAULTS.webhook_timeout_seconds
    download_url_ttl_seconds: DownloadUrlTtlSeconds = _DEFAULTS.download_url_ttl_seconds
    # The Secrets Manager secret that signs download links (shotwire_core.links).
    download_link_secret: str = _DEFAULTS.download_link_secret


class ApiSettings(CaptureJobSettings, WebhookSettings):
    """The API function's settings."""

    idempotency_table: str = _DEFAULTS.idempotency_table
    # Jobs expire (DynamoDB TTL) together with their images (the bucket's lifecycle rule).
    retention_days: Annotated[RetentionDays, FromStack("image_retention_days")] = _DEFAULTS.image_retention_days
    # The timeoutMs of a capture that sets none.
    capture_timeout_ms: Annotated[CaptureJobTimeoutMs, FromStack("capture_job_timeout_ms")] = (
        _DEFAULTS.capture_job_timeout_ms
    )
    webhook_secret_overlap_seconds: SecretOverlapSeconds = _DEFAULTS.webhook_secret_overlap_seconds
    # The static egress IPs webhooks leave from (StackConfig.egress_static_ips), published by
    # GET /v1/meta/egress-ips; empty: no static egress.
    egress_ips: Annotated[tuple[str, ...], Given.RESOURCE] = ()

    @field_validator("egress_ips", mode="before")
    @classmethod
    def _split_ips(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(entry.strip() for entry in value.split(",") if entry.strip())
        return value

    @field_validator("egress_ips")
    @classmethod
    def _are_ips(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_address(entry)
            except ValueError:
                raise ValueError(f"SHOTWIRE_EGRESS_IPS entries must be IP addresses, got {entry!r}") from None
        return value


class CaptureSettings(CaptureJobSettings):
    """The capture function's settings."""

    event_bus_name: Annotated[str, FromStack("event_bus")] = _DEFAULTS.event_bus
    capture_max_receive_count: ReceiveCount = _DEFAULTS.capture_max_receive_count
    # Pages rendering at once in the one browser.
    capture_concurrency: CaptureConcurrency = _DEFAULTS.capture_concurrency
    # Unset: Playwright's own Chromium (as in the image); locally, the one `make dev` found.
    chromium_path: Annotated[str | None, Given.IMAGE] = None
    chromium_args: Annotated[tuple[str, ...], Given.IMAGE] = ()

    @field_validator("chromium_args", mode="before")
    @classmethod
    def _split_args(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(value.split())
        return value

    @field_validator("chromium_path", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return value or None


class DispatcherSettings(WebhookSettings):
    """The dispatcher's settings."""

    webhook_dlq_url: Annotated[str, Given.QUEUE] = ""
    webhook_retry_schedule: RetrySchedule = _DEFAULTS.webhook_retry_schedule
    webhook_max_in_flight_per_destination: MaxInFlightPerDestination = _DEFAULTS.webhook_max_in_flight_per_destination
    webhook_circuit_failure_threshold: CircuitFailureThreshold = _DEFAULTS.webhook_circuit_failure_threshold
    webhook_circuit_hold_seconds: CircuitHoldSeconds = _DEFAULTS.webhook_circuit_hold_seconds
    # The API's public URL, for the links in webhooks (made outside any request); no slash at the end.
    api_url: Annotated[str, Given.RESOURCE] = ""

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(int(part.strip()) for part in value.split(",") if part.strip())
        return value

    @field_validator("api_url")
    @classmethod
    def _is_base_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"SHOTWIRE_API_URL must be an http(s) URL, got {value!r}")
        return value.rstrip("/")


class Settings(ApiSettings, CaptureSettings, DispatcherSettings):
    """Every function's settings at once: for a process that runs several handlers (the integration tests,
    the benches), never a deployed function's."""


# The functions of the stack, by their directory under functions/.
SETTINGS_MODELS: dict[str, type[FunctionSettings]] = {
    "api": ApiSettings,
    "capture": CaptureSettings,
    "dispatcher": DispatcherSettings,
}
FUNCTIONS = tuple(SETTINGS_MODELS)
S = TypeVar("S", bound=FunctionSettings)


def source_of(field: FieldInfo, name: str) -> Source:
    """Where the template takes a field's value from (see FromStack and Given)."""
    marks = [mark for mark in field.metadata if isinstance(mark, FromStack | Given)]
    return marks[0] if marks else FromStack(name)


def variables(model: type[FunctionSettings], *kinds: Given) -> tuple[str, ...]:
    """The variables of `model`'s fields marked with one of `kinds` (all of them without)."""
    return tuple(
        env_name(name) for name, field in model.model_fields.items() if not kinds or source_of(field, name) in kinds
    )


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, frozenset):
        return ",".join(sorted(str(entry) for entry in value))
    if isinstance(value, tuple):
        return ",".join(str(entry) for entry in value)
    return "" if value is None else str(value)


def model_environment(
    model: type[FunctionSettings],
    config: StackConfig,
    *,
    allow_private_networks: bool,
    resources: Mapping[str, str],
) -> dict[str, str]:
    """The variables of `model`, from the stack config and `resources` (by variable: bucket, queue URLs, API URL,
    egress IPs; CDK tokens at synth, moto's names locally). A resource the model needs and `resources` lacks is
    a KeyError here, at synth or when `make dev` starts, not an empty value at run time. What the image sets
    is left out."""
    values: dict[str, object] = {}
    passed: dict[str, str] = {}
    for name, field in model.model_fields.items():
        source = source_of(field, name)
        if isinstance(source, FromStack):
            values[name] = getattr(config, source.attribute)
        elif source is Given.SWITCH:
            values[name] = allow_private_networks
        elif source in (Given.RESOURCE, Given.QUEUE):
            passed[env_name(name)] = resources[env_name(name)]
    # Refuse here what the function would refuse at cold start. Resources are left out: at synth they are
    # CDK tokens, not values.
    settings = model.model_validate(values)
    return {**{env_name(name): _env_value(getattr(settings, name)) for name in values}, **passed}


def powertools_environment(function: str) -> dict[str, str]:
    """Each function logs and traces under its own service name (Powertools reads it from the environment)."""
    return {
        "POWERTOOLS_SERVICE_NAME": f"{SERVICE_PREFIX}-{function}",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    }


def _resources(images_bucket: str, queue_urls: Mapping[str, str], egress_ips: str, api_url: str) -> dict[str, str]:
    return {
        env_name("images_bucket"): images_bucket,
        env_name("egress_ips"): egress_ips,
        env_name("api_url"): api_url,
        **queue_urls,
    }


def environment_of(
    function: str,
    config: StackConfig,
    *,
    images_bucket: str,
    allow_private_networks: bool,
    queue_urls: Mapping[str, str],
    egress_ips: str,
    api_url: str,
) -> dict[str, str]:
    """One function's environment: the variables of its settings model, and its Powertools names.

    `queue_urls` holds queue URLs by variable; the function gets exactly the ones its model names."""
    return {
        **model_environment(
            SETTINGS_MODELS[function],
            config,
            allow_private_networks=allow_private_networks,
            resources=_resources(images_bucket, queue_urls, egress_ips, api_url),
        ),
        **powertools_environment(function),
    }


def function_environments(
    config: StackConfig,
    *,
    images_bucket: str,
    allow_private_networks: bool,
    queue_urls: Mapping[str, str],
    egress_ips: str,
    api_url: str,
) -> dict[str, dict[str, str]]:
    """Every function's environment, by function (see environment_of): the template's and the local stack's."""
    return {
        function: environment_of(
            function,
            config,
            images_bucket=images_bucket,
            allow_private_networks=allow_private_networks,
            queue_urls=queue_urls,
            egress_ips=egress_ips,
            api_url=api_url,
        )
        for function in FUNCTIONS
    }


def function_environment(
    config: StackConfig,
    *,
    images_bucket: str,
    allow_private_networks: bool,
    queue_urls: Mapping[str, str] | None = None,
    egress_ips: str = "",
    api_url: str = "",
) -> dict[str, str]:
    """The variables of every function at once (`Settings`), for a process that runs several handlers (the
    integration tests, the benches); resources not given are set empty, which reads as unset."""
    queues = {name: (queue_urls or {}).get(name, "") for name in variables(Settings, Given.QUEUE)}
    return model_environment(
        Settings,
        config,
        allow_private_networks=allow_private_networks,
        resources=_resources(images_bucket, queues, egress_ips, api_url),
    )


# The queue URLs each function is given, by function: exactly the queues its code sends to or changes.
FUNCTION_QUEUE_URLS: dict[str, tuple[str, ...]] = {
    function: variables(model, Given.QUEUE) for function, model in SETTINGS_MODELS.items()
}
_MODEL_BY_SERVICE = {
    powertools_environment(function)["POWERTOOLS_SERVICE_NAME"]: m for function, m in SETTINGS_MODELS.items()
}


def settings_model(environ: Mapping[str, str] | None = None) -> type[FunctionSettings]:
    """The model of the function this process runs, known by its service name (POWERTOOLS_SERVICE_NAME, which the
    template and the local stack set on each function); `Settings` in a process that is no single function."""
    env = os.environ if environ is None else environ
    return _MODEL_BY_SERVICE.get(env.get("POWERTOOLS_SERVICE_NAME", ""), Settings)


@lru_cache(maxsize=1)
def get_settings() -> FunctionSettings:
    """This process's settings, validated once (at cold start in Lambda)."""
    return settings_model().from_env()


def narrow(settings: FunctionSettings, model: type[S]) -> S:
    """`settings` as `model` (a function's model, or the part functions share); a function whose model is not
    one fails here, naming both."""
    if not isinstance(settings, model):
        raise RuntimeError(f"this function's settings ({type(settings).__name__}) are not {model.__name__}")
    return settings


def settings_as(model: type[S]) -> S:
    """This process's settings as `model` (see narrow)."""
    return narrow(get_settings(), model)
