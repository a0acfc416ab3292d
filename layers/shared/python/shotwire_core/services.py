"""Adapters wired from settings, built once per process (a warm Lambda reuses them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

from shotwire_core.adapters.aws import client
from shotwire_core.adapters.dynamo import HostTable, JobTable, KeyTable
from shotwire_core.adapters.messaging import EventBus, Queue
from shotwire_core.adapters.secrets import secret_bytes
from shotwire_core.adapters.storage import ImageStore
from shotwire_core.adapters.webhook_http import DeliveryResult, post_webhook
from shotwire_core.circuit import DestinationRule
from shotwire_core.jobs import SubmissionRules
from shotwire_core.links import DownloadLinks
from shotwire_core.observability import trace_outgoing_calls
from shotwire_core.settings import Settings, get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer


@dataclass(frozen=True)
class Services:
    settings: Settings
    jobs: JobTable
    keys: KeyTable
    hosts: HostTable
    images: ImageStore
    capture_queue: Queue
    webhook_retry_queue: Queue
    webhook_dlq: Queue
    bus: EventBus
    idempotency_store: DynamoDBPersistenceLayer = field(repr=False)

    @property
    def submission_rules(self) -> SubmissionRules:
        return SubmissionRules(
            allow_private=self.settings.allow_private_networks,
            retention_days=self.settings.retention_days,
            allowed_hosts=self.settings.allowed_hosts,
            default_timeout_ms=self.settings.capture_timeout_ms,
        )

    @property
    def destination_rule(self) -> DestinationRule:
        return DestinationRule(
            failure_threshold=self.settings.webhook_circuit_failure_threshold,
            first_hold_seconds=self.settings.webhook_circuit_hold_seconds,
            max_in_flight=self.settings.webhook_max_in_flight_per_destination,
        )

    def link_secret(self) -> bytes:
        return secret_bytes(self.settings.download_link_secret)

    def download_links(self, base_url: str) -> DownloadLinks:
        """Links to images under the API at `base_url`: the URL a request came in by (the API), or
        SHOTWIRE_API_URL (the dispatcher, see `webhook_links`)."""
        return DownloadLinks(base_url=base_url, secret=self.link_secret)

    @property
    def webhook_links(self) -> DownloadLinks:
        if not self.settings.api_url:
            raise RuntimeError("SHOTWIRE_API_URL is not set: the dispatcher cannot link webhooks to images")
        return self.download_links(self.settings.api_url)

    def send_webhook(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        return post_webhook(
            url,
            body,
            headers,
            allow_private=self.settings.allow_private_networks,
            connect_timeout=self.settings.webhook_connect_timeout_seconds,
            total_timeout=self.settings.webhook_timeout_seconds,
            allowed_hosts=self.settings.allowed_hosts,
        )


@lru_cache(maxsize=1)
def get_services() -> Services:
    # Imported here, with the AWS SDK under it, and patched for tracing here: a cold start pays for them on
    # the first request that calls out, not at import (docs/benchmarks.md, the cold import bench).
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    trace_outgoing_calls()
    settings = get_settings()
    return Services(
        settings=settings,
        jobs=JobTable(settings.jobs_table),
        keys=KeyTable(settings.keys_table),
        hosts=HostTable(settings.jobs_table),
        images=ImageStore(settings.images_bucket),
        capture_queue=Queue(settings.capture_queue_url, "SHOTWIRE_CAPTURE_QUEUE_URL"),
        webhook_retry_queue=Queue(settings.webhook_retry_queue_url, "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL"),
        webhook_dlq=Queue(settings.webhook_dlq_url, "SHOTWIRE_WEBHOOK_DLQ_URL"),
        bus=EventBus(settings.event_bus_name),
        idempotency_store=DynamoDBPersistenceLayer(
            table_name=settings.idempotency_table, boto3_client=client("dynamodb")
        ),
    )
