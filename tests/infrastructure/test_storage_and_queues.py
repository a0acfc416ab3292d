"""Storage and queue guarantees of the template that tests/infrastructure/test_template.py does not already
assert: the images bucket unversioned and expiring as configured, delivery records under the jobs table's
TTL, and every queue encrypted, every DLQ keeping messages the configured 14 days, every consumed queue
redriving to a DLQ with a visibility timeout of at least six times its consumer's timeout.

(Already in test_template.py: public access block, SSE-S3 and TLS-only bucket policy; PITR, SSE and the
jobs/idempotency TTL per table; the capture and webhook redrive targets and receive counts.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import aws_cdk as cdk
import boto3
import pytest
from aws_cdk.assertions import Template

from infra.storage import Storage
from shotwire_core.config import StackConfig
from shotwire_core.models import DeliveryRecord, Job
from tests.support import provisioned_moto

Properties = dict[str, Any]

SQS_DEFAULT_VISIBILITY_TIMEOUT = 30
SQS_DEFAULT_RETENTION = 4 * 86400


def resources_of(template: Template, resource_type: str) -> dict[str, Properties]:
    return {
        logical_id: resource.get("Properties", {})
        for logical_id, resource in template.to_json()["Resources"].items()
        if resource["Type"] == resource_type
    }


def target_id(value: Any) -> str:
    """The logical id a {"Ref": id} or {"Fn::GetAtt": [id, attribute]} points at."""
    found: str = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    return found


def dead_letter_queue_ids(template: Template) -> set[str]:
    """Every queue the stack parks failures in: redrive targets, rule-target DLQs, Lambda on-failure
    destinations that are queues."""
    queues = resources_of(template, "AWS::SQS::Queue")
    found = {target_id(q["RedrivePolicy"]["deadLetterTargetArn"]) for q in queues.values() if "RedrivePolicy" in q}
    for rule in resources_of(template, "AWS::Events::Rule").values():
        for target in rule.get("Targets", []):
            if "DeadLetterConfig" in target:
                found.add(target_id(target["DeadLetterConfig"]["Arn"]))
    for invoke in resources_of(template, "AWS::Lambda::EventInvokeConfig").values():
        on_failure = invoke.get("DestinationConfig", {}).get("OnFailure")
        if on_failure:
            found.add(target_id(on_failure["Destination"]))
    unknown = found - set(queues)
    assert not unknown, f"failures parked outside SQS: {unknown}"
    return found


def jobs_table(template: Template, config: StackConfig) -> Properties:
    (table,) = (
        t for t in resources_of(template, "AWS::DynamoDB::Table").values() if t["TableName"] == config.jobs_table
    )
    return table


# --- S3 ----------------------------------------------------------------------------------------------


def test_images_bucket_is_unversioned_so_expiry_really_deletes(template: Template) -> None:
    """Justified off: images are reproducible renders kept for days. On a versioned bucket the expiry rule would
    only add delete markers and every image would live on as a noncurrent version, past its retention."""
    (bucket,) = resources_of(template, "AWS::S3::Bucket").values()
    assert bucket.get("VersioningConfiguration", {}).get("Status") != "Enabled"


def test_images_expire_after_the_configured_days_bucket_wide(template: Template, config: StackConfig) -> None:
    (bucket,) = resources_of(template, "AWS::S3::Bucket").values()
    expiring = [r for r in bucket["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r]
    assert len(expiring) == 1
    (rule,) = expiring
    assert rule["Status"] == "Enabled"
    assert rule["ExpirationInDays"] == config.image_retention_days
    # Every object, not a prefix or tag: images are stored as <tenant>/<job>.<ext>.
    assert not {"Prefix", "TagFilters", "ObjectSizeGreaterThan", "ObjectSizeLessThan"} & set(rule)
    assert StackConfig().image_retention_days == 7  # the issue's default


def test_image_retention_follows_the_config() -> None:
    # A bare stack with just the storage construct: no need to synthesize the whole app again.
    stack = cdk.Stack(cdk.App(), "RetentionProbe")
    Storage(stack, "Storage", config=StackConfig(image_retention_days=3))
    (bucket,) = resources_of(Template.from_stack(stack), "AWS::S3::Bucket").values()
    assert [r.get("ExpirationInDays") for r in bucket["LifecycleConfiguration"]["Rules"]] == [3]


# --- DynamoDB: where delivery records live, and that they expire -------------------------------------


@pytest.fixture
def local_jobs_table(config: StackConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with provisioned_moto(monkeypatch, config):
        yield config.jobs_table


def test_deliveries_carry_their_jobs_expiry_under_the_table_ttl(template: Template, config: StackConfig) -> None:
    ttl = jobs_table(template, config)["TimeToLiveSpecification"]
    assert ttl["Enabled"] is True
    # A job's webhook deliveries (and their attempts) are items of their own beside the job; each carries the
    # job's expiry in the attribute the table's TTL reads, so they go when the job does.
    assert Job.model_fields["expires_at"].alias == ttl["AttributeName"]
    assert DeliveryRecord.model_fields["expires_at"].alias == ttl["AttributeName"]
    assert not {"webhook_attempts", "past_deliveries"} & set(Job.model_fields)  # a job no longer grows with them


def test_destination_health_records_carry_the_jobs_table_ttl_attribute(
    template: Template, config: StackConfig, local_jobs_table: str
) -> None:
    """Per-destination health (shotwire_core.circuit) is kept in the jobs table too; each write that can create
    such an item must set the attribute the template's TTL reads, or the item would never go."""
    from shotwire_core.adapters.dynamo import HostTable

    attribute = jobs_table(template, config)["TimeToLiveSpecification"]["AttributeName"]
    hosts = HostTable(local_jobs_table)
    now = time.time()
    hosts.add_host_failure("failing.example:443")
    hosts.open_host("opened.example:443", now + 60)
    hosts.claim_slot("busy.example:443", 0, now, now + 30)

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    for destination in ("failing.example:443", "opened.example:443", "busy.example:443"):
        key = {"tenantId": {"S": HostTable.PARTITION}, "jobId": {"S": destination}}
        item = ddb.get_item(TableName=local_jobs_table, Key=key)["Item"]
        expires = int(item[attribute]["N"])
        assert now < expires <= now + HostTable.TTL_SECONDS + 5, destination


# --- SQS ---------------------------------------------------------------------------------------------


def test_every_queue_is_encrypted_with_sqs_managed_keys(template: Template) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    assert queues
    unencrypted = {name for name, q in queues.items() if q.get("SqsManagedSseEnabled") is not True}
    assert not unencrypted


def test_every_dead_letter_queue_keeps_messages_the_configured_14_days(template: Template, config: StackConfig) -> None:
    assert StackConfig().dlq_retention_days == 14  # the issue's retention, and SQS's maximum
    queues = resources_of(template, "AWS::SQS::Queue")
    dlqs = dead_letter_queue_ids(template)
    assert {queues[d]["QueueName"] for d in dlqs} == {config.capture_dlq, config.webhook_dlq}
    for dlq in dlqs:
        assert queues[dlq].get("MessageRetentionPeriod") == config.dlq_retention_days * 86400, dlq
    # A message keeps its first enqueue time when it moves to a standard DLQ, so the DLQ must keep
    # messages at least as long as the queue that redrives into it.
    for source in queues.values():
        if "RedrivePolicy" in source:
            target = queues[target_id(source["RedrivePolicy"]["deadLetterTargetArn"])]
            source_retention = source.get("MessageRetentionPeriod", SQS_DEFAULT_RETENTION)
            assert target["MessageRetentionPeriod"] >= source_retention, source["QueueName"]


def test_every_consumed_queue_has_a_visibility_timeout_of_six_times_its_consumer_and_a_dlq(
    template: Template,
) -> None:
    queues = resources_of(template, "AWS::SQS::Queue")
    functions = resources_of(template, "AWS::Lambda::Function")
    mappings = [
        m
        for m in resources_of(template, "AWS::Lambda::EventSourceMapping").values()
        if target_id(m["EventSourceArn"]) in queues
    ]
    assert len(mappings) >= 2  # the capture queue and the webhook retry queue
    for mapping in mappings:
        queue = queues[target_id(mapping["EventSourceArn"])]
        timeout = functions[target_id(mapping["FunctionName"])]["Timeout"]
        # AWS: at least six times the function timeout, plus the batching window if one is set.
        needed = 6 * timeout + mapping.get("MaximumBatchingWindowInSeconds", 0)
        assert queue.get("VisibilityTimeout", SQS_DEFAULT_VISIBILITY_TIMEOUT) >= needed, queue["QueueName"]
        # A message the function keeps failing ends in a DLQ rather than cycling until retention drops it.
        assert "RedrivePolicy" in queue, queue["QueueName"]
