"""Create on moto the same resources the CDK app defines, with names from the same StackConfig."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import boto3

from shotwire_core.config import StackConfig


@dataclass(frozen=True)
class LocalResources:
    bucket: str
    capture_queue_url: str
    capture_dlq_url: str
    webhook_retry_queue_url: str
    webhook_dlq_url: str
    outcome_tap_url: str  # stands in for the rule's Lambda target: the rule delivers here, we invoke

    def queue_arn(self, url: str) -> str:
        return queue_arn(url)

    def queue_urls(self) -> dict[str, str]:
        """The queue-URL settings a handler reads, pointing at these queues."""
        return {
            "SHOTWIRE_CAPTURE_QUEUE_URL": self.capture_queue_url,
            "SHOTWIRE_WEBHOOK_RETRY_QUEUE_URL": self.webhook_retry_queue_url,
            "SHOTWIRE_WEBHOOK_DLQ_URL": self.webhook_dlq_url,
        }


def queue_arn(url: str, region: str = "us-east-1", account: str = "123456789012") -> str:
    return f"arn:aws:sqs:{region}:{account}:{url.rstrip('/').rsplit('/', 1)[-1]}"


def _queue(sqs: Any, name: str, attributes: dict[str, str]) -> str:
    url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def _redrive(dlq_url: str, max_receives: int, region: str, account: str) -> str:
    target = queue_arn(dlq_url, region, account)
    return json.dumps({"deadLetterTargetArn": target, "maxReceiveCount": str(max_receives)})


def _table(ddb: Any, name: str, keys: dict[str, str], ttl_attribute: str | None = None) -> None:
    """A table as infra/storage.py makes them: on demand, encrypted, point-in-time recovery on, keyed by
    `keys` (attribute -> HASH/RANGE, all strings), items expiring on `ttl_attribute` if given."""
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind in keys.items()],
        AttributeDefinitions=[{"AttributeName": attribute, "AttributeType": "S"} for attribute in keys],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True},
    )
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    if ttl_attribute:
        ddb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute}
        )


def _images_bucket(s3: Any, bucket: str, config: StackConfig) -> None:
    """The bucket as infra/storage.py configures it: private, owner-enforced, encrypted, images expiring."""
    s3.create_bucket(Bucket=bucket)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire-images",
                    "Status": "Enabled",
                    "Filter": {},
                    "Expiration": {"Days": config.image_retention_days},
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )


def provision(config: StackConfig, region: str, account: str) -> LocalResources:
    """Tables, bucket, queues with their DLQs, the link secret, the bus and its rule — as in infra/, minus IAM."""
    ddb = boto3.client("dynamodb", region_name=region)
    # Jobs (and, under their own partitions, batches and webhook-destination health) expire on `expiresAt`.
    _table(ddb, config.jobs_table, {"tenantId": "HASH", "jobId": "RANGE"}, ttl_attribute="expiresAt")
    _table(ddb, config.keys_table, {"pk": "HASH"})
    # Powertools idempotency records carry their own expiry in `expiration`.
    _table(ddb, config.idempotency_table, {"id": "HASH"}, ttl_attribute="expiration")

    bucket = config.images_bucket(account, region)
    _images_bucket(boto3.client("s3", region_name=region), bucket, config)

    sqs = boto3.client("sqs", region_name=region)
    retention = str(config.dlq_retention_days * 86400)
    capture_dlq = _queue(sqs, config.capture_dlq, {"MessageRetentionPeriod": retention})
    capture_queue = _queue(
        sqs,
        config.capture_queue,
        {
            "VisibilityTimeout": str(config.capture_visibility_timeout_seconds),
            "RedrivePolicy": _redrive(capture_dlq, config.capture_max_receive_count, region, account),
        },
    )
    webhook_dlq = _queue(sqs, config.webhook_dlq, {"MessageRetentionPeriod": retention})
    webhook_retry = _queue(
        sqs,
        config.webhook_retry_queue,
        {
            "VisibilityTimeout": str(config.webhook_retry_visibility_timeout_seconds),
            "MessageRetentionPeriod": str(config.webhook_retry_retention_days * 86400),
            "RedrivePolicy": _redrive(webhook_dlq, config.webhook_retry_max_receive_count, region, account),
        },
    )
    # EventBridge invokes the dispatcher asynchronously; Lambda retries a failed invoke twice and then
    # sends the event to the target's DLQ. The tap queue's redrive reproduces that locally.
    outcome_tap = _queue(
        sqs,
        f"{config.prefix}-local-outcome-tap",
        {
            "VisibilityTimeout": "10",
            "RedrivePolicy": _redrive(webhook_dlq, 1 + config.dispatcher_async_retry_attempts, region, account),
        },
    )

    # The download-link secret (infra/links.py generates it in AWS), random on every start like a new stack's.
    boto3.client("secretsmanager", region_name=region).create_secret(
        Name=config.download_link_secret, SecretString=secrets.token_urlsafe(48)
    )

    events = boto3.client("events", region_name=region)
    events.create_event_bus(Name=config.event_bus)
    events.put_rule(
        Name=config.outcome_rule, EventBusName=config.event_bus, EventPattern=json.dumps(config.outcome_event_pattern)
    )
    events.put_targets(
        Rule=config.outcome_rule,
        EventBusName=config.event_bus,
        Targets=[{"Id": "dispatcher", "Arn": queue_arn(outcome_tap, region, account)}],
    )
    return LocalResources(
        bucket=bucket,
        capture_queue_url=capture_queue,
        capture_dlq_url=capture_dlq,
        webhook_retry_queue_url=webhook_retry,
        webhook_dlq_url=webhook_dlq,
        outcome_tap_url=outcome_tap,
    )
