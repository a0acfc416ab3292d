"""Adapters wired from the function's settings, each built on first use and kept for the process (a warm Lambda
reuses them)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

from shotwire_core.adapters.aws import client
from shotwire_core.adapters.dynamo import HostTable, JobTable, KeyTable
from shotwire_core.adapters.messaging import EventBus, Queue
from shotwire_core.adapters.secrets import secret_bytes
from shotwire_core.adapters.storage import ImageStore
from shotwire_core.adapters.webhook_http import post_webhook
from shotwire_core.circuit import DestinationRule
from shotwire_core.jobs import SubmissionRules
from shotwire_core.links import DownloadLinks
from shotwire_core.observability import trace_outgoing_calls
from shotwire_core.sending import DeliveryResult
from shotwire_core.settings import (
    ApiSettings,
    CaptureJobSettings,
    CaptureSettings,
    DispatcherSettings,
    FunctionSettings,
    S,
    WebhookSettings,
    get_settings,
    narrow,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer


@dataclass(frozen=True)
class Services:
    """The running function's adapters. Each is built from its settings on first use: one that needs a setting
    the function's model lacks (the capture function has no keys table) fails there, naming the model."""

    settings: FunctionSettings

    def settings_as(self, model: type[S]) -> S:
        return narrow(self.settings, model)

    @cached_property
    def jobs(self) -> JobTable:
        return JobTable(self.settings.jobs_table)

    @cached_property
    def hosts(self) -> HostTable:
        return HostTable(self.settings.jobs_table)

    @cached_property
    def keys(self) -> KeyTable:
        return KeyTable(self.settings_as(WebhookSettings).keys_table)

    @cached_property
    def images(self) -> ImageStore:
        return ImageStore(self.settings_as(CaptureJobSettings).images_bucket)

    @cached_property
    def capture_queue(self) -> Queue:
        return Queue(self.settings_as(CaptureJobSettings).capture_queue_url, "SHOTWIRE_CAPTURE_QUEUE_URL")

    @cached_property
    def webhook_retry_queue(self) -> Queue:
        return Queue(self.settings_as(WebhookSettings).webhook_retry_queue_url, "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL")

    @cached_property
    def webhook_dlq(self) -> Queue:
        return Queue(self.settings_as(DispatcherSettings).webhook_dlq_url, "SHOTWIRE_WEBHOOK_DLQ_URL")

    @cached_property
    def bus(self) -> EventBus:
        return EventBus(self.settings_as(CaptureSettings).event_bus_name)

    @cached_property
    def idempotency_store(self) -> DynamoDBPersistenceLayer:
        # Imported here, with the AWS SDK under it: a cold start pays for it on the first creating request.
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        table = self.settings_as(ApiSettings).idempotency_table
        return DynamoDBPersistenceLayer(table_name=table, boto3_client=client("dynamodb"))

    @property
    def submission_rules(self) -> SubmissionRules:
        settings = self.settings_as(ApiSettings)
        return SubmissionRules(
            allow_private=settings.allow_private_networks,
            retention_days=settings.retention_days,
            allowed_hosts=settings.allowed_hosts,
            default_timeout_ms=settings.capture_timeout_ms,
        )

    @property
    def destination_rule(self) -> DestinationRule:
        settings = self.settings_as(DispatcherSettings)
        return DestinationRule(
            failure_threshold=settings.webhook_circuit_failure_threshold,
            first_hold_seconds=settings.webhook_circuit_hold_seconds,
            max_in_flight=settings.webhook_max_in_flight_per_destination,
        )

    def link_secret(self) -> bytes:
        return secret_bytes(self.settings_as(WebhookSettings).download_link_secret)

    def download_links(self, base_url: str) -> DownloadLinks:
        """Links to images under the API at `base_url`: the URL a request came in by (the API), or
        SHOTWIRE_API_URL (the dispatcher, see `webhook_links`)."""
        return DownloadLinks(base_url=base_url, secret=self.link_secret)

    @property
    def webhook_links(self) -> DownloadLinks:
        api_url = self.settings_as(DispatcherSettings).api_url
        if not api_url:
            raise RuntimeError("SHOTWIRE_API_URL is not set: the dispatcher cannot link webhooks to images")
        return self.download_links(api_url)

    def send_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        settings = self.settings_as(WebhookSettings)
        return post_webhook(
            url,
            body,
            headers,
            allow_private=settings.allow_private_networks,
            connect_timeout=settings.webhook_connect_timeout_seconds,
            total_timeout=settings.webhook_timeout_seconds,
            allowed_hosts=settings.allowed_hosts,
        )


@lru_cache(maxsize=1)
def get_services() -> Services:
    # Patched for tracing before any client is built: a cold start pays for the AWS SDK on the first request
    # that calls out, not at import (docs/benchmarks.md, the cold import bench).
    trace_outgoing_calls()
    return Services(settings=get_settings())
