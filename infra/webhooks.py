"""Webhook delivery: the outcome bus and rule, the dispatcher, its retry queue and dead-letter queue."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.defaults import ASSET_EXCLUDE, REPO_ROOT, RUNTIME, ZIP_HANDLER, function_props, secure_queue
from infra.egress import StaticEgress
from infra.environment import settings_environment
from infra.layers import Layers
from infra.links import DownloadLinkSecret
from infra.permissions import allow_items
from infra.storage import Storage
from shotwire_core.config import StackConfig

# An outcome that never reaches the dispatcher is a webhook never sent: let EventBridge retry for as long
# as it allows, then park the event in the webhook DLQ.
RULE_TARGET_RETRY_ATTEMPTS = 185
RULE_TARGET_MAX_EVENT_AGE = Duration.hours(24)


def event_pattern(pattern: dict[str, Any]) -> events.EventPattern:
    """config.outcome_event_pattern uses EventBridge's JSON keys ("detail-type"); CDK wants snake_case."""
    return events.EventPattern(**{key.replace("-", "_"): value for key, value in pattern.items()})


class WebhookDelivery(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: Storage,
        layers: Layers,
        links: DownloadLinkSecret,
        # The API's public URL: webhooks link to images through it (shotwire_core.links).
        api_url: str,
        egress: StaticEgress | None = None,
    ) -> None:
        super().__init__(scope, construct_id)

        self.event_bus = events.EventBus(self, "Bus", event_bus_name=config.event_bus)

        self.dlq = secure_queue(
            self,
            "DeadLetterQueue",
            queue_name=config.webhook_dlq,
            retention_period=Duration.days(config.dlq_retention_days),
        )
        self.retry_queue = secure_queue(
            self,
            "RetryQueue",
            queue_name=config.webhook_retry_queue,
            visibility_timeout=Duration.seconds(config.webhook_retry_visibility_timeout_seconds),
            retention_period=Duration.days(config.webhook_retry_retention_days),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=config.webhook_retry_max_receive_count
            ),
        )

        self.function = lambda_.Function(
            self,
            "Dispatcher",
            description="Signs and delivers capture outcomes to tenant webhooks, scheduling retries",
            runtime=RUNTIME,
            handler=ZIP_HANDLER,
            code=lambda_.Code.from_asset(str(REPO_ROOT / "functions" / "dispatcher"), exclude=ASSET_EXCLUDE),
            reserved_concurrent_executions=config.dispatcher_reserved_concurrency,
            layers=layers.all,
            # Crashes on events from the rule (not delivery failures, which go to the retry queue) are
            # retried by Lambda, then kept in the webhook DLQ instead of being dropped.
            retry_attempts=config.dispatcher_async_retry_attempts,
            on_failure=destinations.SqsDestination(self.dlq),
            **function_props(
                self,
                service="dispatcher",
                memory_mb=config.dispatcher_memory_mb,
                timeout_seconds=config.dispatcher_timeout_seconds,
                # With static egress IPs, webhooks leave through the VPC's NAT gateways (infra/egress.py).
                vpc_placement=egress.function_placement() if egress else None,
                environment=settings_environment(
                    config,
                    function="dispatcher",
                    images_bucket=storage.bucket.bucket_name,
                    queue_urls={
                        "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL": self.retry_queue.queue_url,
                        "SHOTWIRE_WEBHOOK_DLQ_URL": self.dlq.queue_url,
                    },
                    api_url=api_url,
                ),
            ),
        )

        self.rule = events.Rule(
            self,
            "OutcomeRule",
            rule_name=config.outcome_rule,
            event_bus=self.event_bus,
            event_pattern=event_pattern(config.outcome_event_pattern),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dlq,
                    retry_attempts=RULE_TARGET_RETRY_ATTEMPTS,
                    max_event_age=RULE_TARGET_MAX_EVENT_AGE,
                )
            ],
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.retry_queue,
                batch_size=config.webhook_retry_batch_size,
                # A failing endpoint must not hold back deliveries to the others in the batch.
                report_batch_item_failures=True,
                max_concurrency=config.dispatcher_retry_max_concurrency,
            )
        )

        # Jobs: read, count batch members; open deliveries and store their attempts (items of their own,
        # PutItem), record their status; destination health lives there too (#hosts).
        allow_items(self.function, storage.jobs_table, "GetItem", "PutItem", "UpdateItem")
        # The tenant's webhook secrets, to sign.
        allow_items(self.function, storage.keys_table, "GetItem")
        # Webhooks link to images through the API (signed with the link secret), not to the bucket.
        links.grant_signing(self.function)
        self.retry_queue.grant_send_messages(self.function)
        self.dlq.grant_send_messages(self.function)
