"""Runtime settings, read once from the environment into a validated model.

The CDK app sets these variables on each function from `StackConfig`; the local stack sets the
same variables for the same handlers. Unset names fall back to `StackConfig` defaults.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shotwire_core.config import CAPTURE_JOB_TIMEOUT_MAX_SECONDS, DEFAULT_WEBHOOK_RETRY_SCHEDULE, StackConfig

_DEFAULTS = StackConfig()
# A rotation may keep the old secret signing for at most a week.
MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600

# Environment variable name -> Settings field.
ENV_VARS: dict[str, str] = {
    "SHOTWIRE_JOBS_TABLE": "jobs_table",
    "SHOTWIRE_KEYS_TABLE": "keys_table",
    "SHOTWIRE_IDEMPOTENCY_TABLE": "idempotency_table",
    "SHOTWIRE_IMAGES_BUCKET": "images_bucket",
    "SHOTWIRE_CAPTURE_QUEUE_URL": "capture_queue_url",
    "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL": "webhook_retry_queue_url",
    "SHOTWIRE_WEBHOOK_DLQ_URL": "webhook_dlq_url",
    "SHOTWIRE_EVENT_BUS_NAME": "event_bus_name",
    "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "allow_private_networks",
    "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "webhook_retry_schedule",
    "SHOTWIRE_WEBHOOK_CONNECT_TIMEOUT_SECONDS": "webhook_connect_timeout_seconds",
    "SHOTWIRE_WEBHOOK_TIMEOUT_SECONDS": "webhook_timeout_seconds",
    "SHOTWIRE_WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION": "webhook_max_in_flight_per_destination",
    "SHOTWIRE_WEBHOOK_CIRCUIT_FAILURE_THRESHOLD": "webhook_circuit_failure_threshold",
    "SHOTWIRE_WEBHOOK_CIRCUIT_HOLD_SECONDS": "webhook_circuit_hold_seconds",
    "SHOTWIRE_DOWNLOAD_URL_TTL_SECONDS": "download_url_ttl_seconds",
    "SHOTWIRE_WEBHOOK_SECRET_OVERLAP_SECONDS": "webhook_secret_overlap_seconds",
    "SHOTWIRE_CAPTURE_TIMEOUT_MS": "capture_timeout_ms",
    "SHOTWIRE_CAPTURE_MAX_RECEIVE_COUNT": "capture_max_receive_count",
    "SHOTWIRE_CHROMIUM_PATH": "chromium_path",
    "SHOTWIRE_CHROMIUM_ARGS": "chromium_args",
    "SHOTWIRE_RETENTION_DAYS": "retention_days",
    "SHOTWIRE_CAPTURE_CONCURRENCY": "capture_concurrency",
    "SHOTWIRE_ALLOWED_HOSTS": "allowed_hosts",
    "SHOTWIRE_EGRESS_IPS": "egress_ips",
    "SHOTWIRE_DOWNLOAD_LINK_SECRET": "download_link_secret",
    "SHOTWIRE_API_URL": "api_url",
}


class Settings(BaseModel):
    """What a running function needs to know about its surroundings."""

    model_config = ConfigDict(frozen=True)

    jobs_table: str = _DEFAULTS.jobs_table
    keys_table: str = _DEFAULTS.keys_table
    idempotency_table: str = _DEFAULTS.idempotency_table
    images_bucket: str = ""
    capture_queue_url: str = ""
    webhook_retry_queue_url: str = ""
    webhook_dlq_url: str = ""
    event_bus_name: str = _DEFAULTS.event_bus
    allow_private_networks: bool = False
    webhook_retry_schedule: tuple[int, ...] = DEFAULT_WEBHOOK_RETRY_SCHEDULE
    webhook_connect_timeout_seconds: float = Field(default=_DEFAULTS.webhook_connect_timeout_seconds, gt=0)
    webhook_timeout_seconds: float = Field(default=_DEFAULTS.webhook_timeout_seconds, gt=0)
    webhook_max_in_flight_per_destination: int = Field(
        default=_DEFAULTS.webhook_max_in_flight_per_destination, ge=1, le=100
    )
    webhook_circuit_failure_threshold: int = Field(default=_DEFAULTS.webhook_circuit_failure_threshold, ge=1)
    webhook_circuit_hold_seconds: int = Field(default=_DEFAULTS.webhook_circuit_hold_seconds, ge=1, le=3600)
    download_url_ttl_seconds: int = Field(default=_DEFAULTS.download_url_ttl_seconds, ge=3600, le=7 * 24 * 3600)
    webhook_secret_overlap_seconds: int = Field(
        default=_DEFAULTS.webhook_secret_overlap_seconds, ge=0, le=MAX_SECRET_OVERLAP_SECONDS
    )
    capture_timeout_ms: int = Field(
        default=_DEFAULTS.capture_job_timeout_ms, ge=1000, le=CAPTURE_JOB_TIMEOUT_MAX_SECONDS * 1000
    )
    capture_max_receive_count: int = Field(default=_DEFAULTS.capture_max_receive_count, ge=1)
    chromium_path: str | None = None
    chromium_args: tuple[str, ...] = ()
    retention_days: int = Field(default=_DEFAULTS.image_retention_days, ge=1)
    capture_concurrency: int = Field(default=_DEFAULTS.capture_concurrency, ge=1, le=16)
    # host:port pairs reachable even when private networks are blocked (e.g. a staging site, a receiver).
    allowed_hosts: frozenset[str] = frozenset()
    # The static egress IPs webhooks leave from (StackConfig.egress_static_ips); empty: no static egress.
    egress_ips: tuple[str, ...] = ()
    download_link_secret: str = _DEFAULTS.download_link_secret
    # The API's public URL, for links made outside a request (the dispatcher's webhooks); no slash at the end.
    api_url: str = ""

    @field_validator("api_url")
    @classmethod
    def _is_base_url(cls, value: str) -> str:
        if value and not value.startswith(("https://", "http://")):
            raise ValueError(f"SHOTWIRE_API_URL must be an http(s) URL, got {value!r}")
        return value.rstrip("/")

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            entries = [entry.strip().lower() for entry in value.split(",") if entry.strip()]
            for entry in entries:
                host, _, port = entry.rpartition(":")
                if not host or not port.isdigit():
                    raise ValueError(f"SHOTWIRE_ALLOWED_HOSTS entries must be host:port, got {entry!r}")
            return frozenset(entries)
        return value

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

    @field_validator("webhook_retry_schedule", mode="before")
    @classmethod
    def _parse_schedule(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return tuple(int(p) for p in parts)
        return value

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _non_negative(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(wait < 0 for wait in value):
            raise ValueError("retry waits must be >= 0 seconds")
        return value

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

    @property
    def max_webhook_attempts(self) -> int:
        return len(self.webhook_retry_schedule) + 1

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {field: env[name] for name, field in ENV_VARS.items() if env.get(name, "") != ""}
        return cls.model_validate(values)


def function_environment(
    config: StackConfig,
    *,
    images_bucket: str,
    allow_private_networks: bool,
    queue_urls: Mapping[str, str] | None = None,
    egress_ips: str | None = None,
    api_url: str | None = None,
) -> dict[str, str]:
    """The SHOTWIRE_* variables a function gets, from the stack config: the CDK app sets them on each
    deployed function and the local stack sets them for its handlers, so both see the same settings.

    `egress_ips` (comma-separated, "" when there are none) is given only to the function that publishes
    them (the API); the others do not get the variable. `api_url` likewise goes only to the function that makes
    download links outside a request (the dispatcher)."""
    env = {
        "SHOTWIRE_JOBS_TABLE": config.jobs_table,
        "SHOTWIRE_KEYS_TABLE": config.keys_table,
        "SHOTWIRE_IDEMPOTENCY_TABLE": config.idempotency_table,
        "SHOTWIRE_IMAGES_BUCKET": images_bucket,
        "SHOTWIRE_EVENT_BUS_NAME": config.event_bus,
        "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1" if allow_private_networks else "0",
        "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": ",".join(str(wait) for wait in config.webhook_retry_schedule),
        "SHOTWIRE_WEBHOOK_CONNECT_TIMEOUT_SECONDS": str(config.webhook_connect_timeout_seconds),
        "SHOTWIRE_WEBHOOK_TIMEOUT_SECONDS": str(config.webhook_timeout_seconds),
        "SHOTWIRE_WEBHOOK_MAX_IN_FLIGHT_PER_DESTINATION": str(config.webhook_max_in_flight_per_destination),
        "SHOTWIRE_WEBHOOK_CIRCUIT_FAILURE_THRESHOLD": str(config.webhook_circuit_failure_threshold),
        "SHOTWIRE_WEBHOOK_CIRCUIT_HOLD_SECONDS": str(config.webhook_circuit_hold_seconds),
        "SHOTWIRE_DOWNLOAD_URL_TTL_SECONDS": str(config.download_url_ttl_seconds),
        "SHOTWIRE_WEBHOOK_SECRET_OVERLAP_SECONDS": str(config.webhook_secret_overlap_seconds),
        "SHOTWIRE_CAPTURE_TIMEOUT_MS": str(config.capture_job_timeout_ms),
        "SHOTWIRE_CAPTURE_MAX_RECEIVE_COUNT": str(config.capture_max_receive_count),
        # Jobs expire (DynamoDB TTL) together with their images (bucket lifecycle rule).
        "SHOTWIRE_RETENTION_DAYS": str(config.image_retention_days),
        "SHOTWIRE_CAPTURE_CONCURRENCY": str(config.capture_concurrency),
        "SHOTWIRE_ALLOWED_HOSTS": ",".join(config.allowed_hosts),
        "SHOTWIRE_DOWNLOAD_LINK_SECRET": config.download_link_secret,
        **(queue_urls or {}),
        **({"SHOTWIRE_EGRESS_IPS": egress_ips} if egress_ips is not None else {}),
        **({"SHOTWIRE_API_URL": api_url} if api_url is not None else {}),
    }
    unknown = sorted(set(env) - set(ENV_VARS))
    if unknown:
        raise ValueError(f"not part of the settings contract (ENV_VARS): {unknown}")
    # Refuse here (at synth, or when `make dev` starts) what every function would refuse at cold start.
    # Resource names are left out: at synth they are CDK tokens, not values.
    resources = {"SHOTWIRE_IMAGES_BUCKET", "SHOTWIRE_EGRESS_IPS", "SHOTWIRE_API_URL", *(queue_urls or {})}
    Settings.from_env({name: value for name, value in env.items() if name not in resources})
    return env


# The functions of the stack, by their directory under functions/, and the queue URLs each one is given:
# exactly the queues its code sends to or changes. The template and the local stack both build each
# function's environment from this (function_environments), so a URL missing in AWS is missing locally too.
FUNCTION_QUEUE_URLS: dict[str, tuple[str, ...]] = {
    # Queues new jobs; `redeliver` queues a new delivery's first attempt on the retry queue.
    "api": ("SHOTWIRE_CAPTURE_QUEUE_URL", "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL"),
    # Shortens a failed capture's redelivery (ChangeMessageVisibility) from 45 minutes to 30 s / 60 s.
    "capture": ("SHOTWIRE_CAPTURE_QUEUE_URL",),
    # Schedules retries and parks what it cannot deliver.
    "dispatcher": ("SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL", "SHOTWIRE_WEBHOOK_DLQ_URL"),
}
FUNCTIONS = tuple(FUNCTION_QUEUE_URLS)
# Only the API publishes the static egress IPs (GET /v1/meta/egress-ips).
EGRESS_IPS_FUNCTIONS = frozenset({"api"})
# The API makes its links from the URL each request reached it by; the dispatcher, outside any request, from this.
API_URL_FUNCTIONS = frozenset({"dispatcher"})
SERVICE_PREFIX = "shotwire"
METRICS_NAMESPACE = "Shotwire"


def powertools_environment(function: str) -> dict[str, str]:
    """Each function logs, traces and counts under its own service name."""
    return {
        "POWERTOOLS_SERVICE_NAME": f"{SERVICE_PREFIX}-{function}",
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
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
    """One function's environment: the SHOTWIRE_* settings and its Powertools names.

    `queue_urls` holds queue URLs by variable name (CDK tokens at synth, moto's URLs locally); the function
    gets exactly its FUNCTION_QUEUE_URLS. A name it needs and `queue_urls` lacks is a KeyError here, at
    synth or when `make dev` starts, not an empty URL at run time."""
    return {
        **function_environment(
            config,
            images_bucket=images_bucket,
            allow_private_networks=allow_private_networks,
            queue_urls={name: queue_urls[name] for name in FUNCTION_QUEUE_URLS[function]},
            egress_ips=egress_ips if function in EGRESS_IPS_FUNCTIONS else None,
            api_url=api_url if function in API_URL_FUNCTIONS else None,
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
    """Every function's environment, by function (see environment_of)."""
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for this process, validated once (at cold start in Lambda)."""
    return Settings.from_env()
