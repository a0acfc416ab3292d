"""Listing, deleting, and the caller's own fields (metadata, externalId) through the API function on moto."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import boto3
import pytest

from shotwire_core.clock import now_iso
from shotwire_core.config import load_stack_config
from shotwire_core.jobs import encode_cursor, webhook_body
from tests.integration.conftest import KEY_A, KEY_B, Aws
from tests.integration.test_api import API_HOST, call


def _submit(api: ModuleType, key: str = KEY_A, **fields: Any) -> str:
    status, body, _ = call(api, "POST", "/v1/screenshots", {"url": "https://example.com/", **fields}, key=key)
    assert status == 202, body
    job_id: str = body["jobId"]
    return job_id


def _finish(aws_stack: Aws, job_id: str, tenant_id: str = "tenant-a") -> str:
    """Complete a queued job as the capture function would: image in S3, then the job record."""
    from shotwire_core.adapters.dynamo import JobTable

    jobs = JobTable(load_stack_config().jobs_table)
    image_key = f"{tenant_id}/{job_id}.png"
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=aws_stack.resources.bucket, Key=image_key, Body=b"\x89PNG fake"
    )
    jobs.mark_processing(tenant_id, job_id, now_iso())
    jobs.mark_completed(tenant_id, job_id, now_iso(), {"imageKey": image_key, "imageWidth": 1280, "imageHeight": 800})
    return image_key


def test_jobs_list_newest_first_a_page_at_a_time(aws_stack: Aws, api_module: ModuleType) -> None:
    ids = [_submit(api_module) for _ in range(5)]
    _submit(api_module, key=KEY_B)  # another tenant's job never shows up

    status, first, _ = call(api_module, "GET", "/v1/screenshots?limit=2")
    assert status == 200, first
    assert [job["jobId"] for job in first["data"]] == ids[::-1][:2] and first["nextCursor"]
    _, second, _ = call(api_module, "GET", f"/v1/screenshots?limit=2&cursor={first['nextCursor']}")
    assert [job["jobId"] for job in second["data"]] == ids[::-1][2:4]
    _, third, _ = call(api_module, "GET", f"/v1/screenshots?limit=2&cursor={second['nextCursor']}")
    assert [job["jobId"] for job in third["data"]] == ids[:1] and third["nextCursor"] is None

    _, everything, _ = call(api_module, "GET", "/v1/screenshots")
    assert [job["jobId"] for job in everything["data"]] == ids[::-1] and everything["nextCursor"] is None


def test_the_list_filters_by_status(aws_stack: Aws, api_module: ModuleType) -> None:
    ids = [_submit(api_module) for _ in range(4)]
    _finish(aws_stack, ids[1])
    _finish(aws_stack, ids[3])
    status, done, _ = call(api_module, "GET", "/v1/screenshots?status=completed&limit=1")
    assert status == 200 and [job["jobId"] for job in done["data"]] == [ids[3]]
    assert done["data"][0]["screenshotUrl"].startswith(f"http://{API_HOST}/v1/downloads/tenant-a/{ids[3]}.png?")
    _, rest, _ = call(api_module, "GET", f"/v1/screenshots?status=completed&limit=1&cursor={done['nextCursor']}")
    assert [job["jobId"] for job in rest["data"]] == [ids[1]]
    _, queued, _ = call(api_module, "GET", "/v1/screenshots?status=queued")
    assert [job["jobId"] for job in queued["data"]] == [ids[2], ids[0]]


@pytest.mark.parametrize(
    ("query", "field", "rule"),
    [
        ("limit=0", "limit", "greater_than_equal"),
        ("limit=101", "limit", "less_than_equal"),
        ("limit=ten", "limit", "int_parsing"),
        ("status=done", "status", "enum"),
        ("cursor=not-a-cursor", "cursor", "invalid_cursor"),
    ],
)
def test_bad_list_parameters_get_a_422_naming_the_parameter(
    aws_stack: Aws, api_module: ModuleType, query: str, field: str, rule: str
) -> None:
    status, body, _ = call(api_module, "GET", f"/v1/screenshots?{query}")
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == field and body["error"]["details"][0]["rule"] == rule, body


def test_a_cursor_cannot_reach_another_tenant(aws_stack: Aws, api_module: ModuleType) -> None:
    theirs = _submit(api_module, key=KEY_B)
    newer = _submit(api_module, key=KEY_B)
    # A cursor naming tenant B's job, used by tenant A, pages through tenant A's jobs only.
    status, page, _ = call(api_module, "GET", f"/v1/screenshots?cursor={encode_cursor(newer)}")
    assert status == 200 and all(job["jobId"] != theirs for job in page["data"])


def test_delete_removes_the_image_and_the_job(aws_stack: Aws, api_module: ModuleType) -> None:
    job_id = _submit(api_module)
    image_key = _finish(aws_stack, job_id)
    status, body, _ = call(api_module, "DELETE", f"/v1/screenshots/{job_id}", key=KEY_B)
    assert status == 404, body  # not theirs to delete
    status, body, _ = call(api_module, "DELETE", f"/v1/screenshots/{job_id}")
    assert status == 204, body
    listed = boto3.client("s3", region_name="us-east-1").list_objects_v2(
        Bucket=aws_stack.resources.bucket, Prefix=image_key
    )
    assert listed.get("KeyCount", 0) == 0
    status, body, _ = call(api_module, "GET", f"/v1/screenshots/{job_id}")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, _ = call(api_module, "DELETE", f"/v1/screenshots/{job_id}")
    assert status == 404


def test_an_unfinished_job_cannot_be_deleted(aws_stack: Aws, api_module: ModuleType) -> None:
    job_id = _submit(api_module)
    status, body, _ = call(api_module, "DELETE", f"/v1/screenshots/{job_id}")
    assert status == 409 and "still queued" in body["error"]["message"], body


def test_metadata_and_external_id_are_kept_and_echoed(aws_stack: Aws, api_module: ModuleType) -> None:
    metadata = {"customer": "c-42", "tags": ["a", "b"], "score": 1.5, "count": 3, "nested": {"ok": True}}
    job_id = _submit(api_module, metadata=metadata, externalId="order-1234")
    status, job, _ = call(api_module, "GET", f"/v1/screenshots/{job_id}")
    assert status == 200 and job["metadata"] == metadata and job["externalId"] == "order-1234"
    _finish(aws_stack, job_id)
    from shotwire_core.adapters.dynamo import JobTable

    stored = JobTable(load_stack_config().jobs_table).get("tenant-a", job_id)
    assert stored is not None
    body = webhook_body(stored, "https://example.com/img")
    assert body["metadata"] == metadata and body["externalId"] == "order-1234"


DEEP: dict[str, Any] = {"leaf": 1}
for _ in range(17):
    DEEP = {"level": DEEP}


@pytest.mark.parametrize(
    ("fields", "field", "rule"),
    [
        ({"metadata": {"blob": "x" * 2100}}, "metadata", "too_large"),
        ({"metadata": ["not", "an", "object"]}, "metadata", "dict_type"),
        ({"metadata": DEEP}, "metadata", "too_deep"),
        ({"externalId": "x" * 129}, "externalId", "string_too_long"),
        ({"externalId": ""}, "externalId", "string_too_short"),
    ],
)
def test_oversized_caller_fields_are_refused(
    aws_stack: Aws, api_module: ModuleType, fields: dict[str, Any], field: str, rule: str
) -> None:
    status, body, _ = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/", **fields})
    assert status == 422, body
    assert body["error"]["details"][0]["field"] == field and body["error"]["details"][0]["rule"] == rule, body


def test_a_body_over_256_kb_is_a_413_in_the_error_envelope(aws_stack: Aws, api_module: ModuleType) -> None:
    big = {"url": "https://example.com/", "css": "a{}" * 90_000}  # ~270 KB
    status, body, _ = call(api_module, "POST", "/v1/screenshots", big)
    assert status == 413, body
    assert body["error"]["code"] == "payload_too_large" and body["error"]["details"][0]["field"] == "body"
    status, body, _ = call(api_module, "POST", "/v1/screenshots", big, key=None)
    assert status == 401  # who is asking comes first, as for every other error


def test_the_same_idempotency_key_and_body_returns_the_first_answer(aws_stack: Aws, api_module: ModuleType) -> None:
    body = {"url": "https://example.com/once"}
    headers = {"Idempotency-Key": "order-77-screenshot"}
    status, first, first_headers = call(api_module, "POST", "/v1/screenshots", body, headers=headers)
    assert status == 202 and "Idempotent-Replayed" not in first_headers
    lowercase = {"idempotency-key": headers["Idempotency-Key"]}  # header names are case-insensitive
    status, again, again_headers = call(api_module, "POST", "/v1/screenshots", body, headers=lowercase)
    assert status == 202 and again == first and again_headers["Idempotent-Replayed"] == "true"
    assert again_headers["Location"] == f"/v1/screenshots/{first['jobId']}"
    _, listed, _ = call(api_module, "GET", "/v1/screenshots")
    assert [job["jobId"] for job in listed["data"]] == [first["jobId"]]  # one job, not two

    # Another tenant using the same key gets its own job; so does the same tenant without the header.
    status, theirs, _ = call(api_module, "POST", "/v1/screenshots", body, headers=headers, key=KEY_B)
    assert status == 202 and theirs["jobId"] != first["jobId"]
    _, fresh, _ = call(api_module, "POST", "/v1/screenshots", body)
    assert fresh["jobId"] != first["jobId"]


def test_the_same_idempotency_key_with_another_body_is_refused(aws_stack: Aws, api_module: ModuleType) -> None:
    headers = {"Idempotency-Key": "k-1"}
    status, _, _ = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/a"}, headers=headers)
    assert status == 202
    status, body, _ = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/b"}, headers=headers)
    assert status == 422, body
    (problem,) = body["error"]["details"]
    assert problem["field"] == "Idempotency-Key" and problem["rule"] == "idempotency_key_reused"


def test_a_failed_request_does_not_use_up_its_idempotency_key(aws_stack: Aws, api_module: ModuleType) -> None:
    headers = {"Idempotency-Key": "k-2"}
    refused = {"url": "https://example.com/", "webhookUrl": "https://user:pw@example.com/hook"}
    status, body, _ = call(api_module, "POST", "/v1/screenshots", refused, headers=headers)
    assert status == 422, body  # refused inside the route, after the idempotency record was opened
    status, _, _ = call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/"}, headers=headers)
    assert status == 202


def test_idempotency_records_expire_after_a_day(aws_stack: Aws, api_module: ModuleType) -> None:
    import time

    call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/"}, headers={"Idempotency-Key": "k-3"})
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=load_stack_config().idempotency_table)
    (record,) = items["Items"]
    assert 86_400 - 60 < int(record["expiration"]["N"]) - time.time() <= 86_400


@pytest.mark.parametrize("key", ["", " padded ", "x" * 256, "naïve"])
def test_a_malformed_idempotency_key_is_refused(aws_stack: Aws, api_module: ModuleType, key: str) -> None:
    status, body, _ = call(
        api_module, "POST", "/v1/screenshots", {"url": "https://example.com/"}, headers={"Idempotency-Key": key}
    )
    assert status == 422 and body["error"]["details"][0]["field"] == "Idempotency-Key", body


def test_a_1000_item_batch_is_written_in_bulk(aws_stack: Aws, api_module: ModuleType) -> None:
    """1,000 jobs in 141 AWS requests (one record, 40 BatchWriteItem, 100 SendMessageBatch), sent 8 at a time.

    The wall time printed here is mostly moto's: its SQS rescans every queued message on each send, so
    sending gets slower as the queue fills (see docs/benchmarks.md for the figures)."""
    import time
    from collections import Counter

    from shotwire_core.adapters.aws import client

    calls: Counter[str] = Counter()
    for service in ("dynamodb", "sqs"):
        client(service).meta.events.register(
            "before-call.*.*",
            lambda model, **_: calls.update([model.name]),
        )
    items = [f"https://example.com/page/{n}" for n in range(1000)]
    started = time.perf_counter()
    status, body, _ = call(api_module, "POST", "/v1/batches", {"items": items, "defaults": {"format": "webp"}})
    elapsed = time.perf_counter() - started
    assert status == 202, body
    assert len(body["jobIds"]) == len(set(body["jobIds"])) == 1000
    # Besides: the key and tenant lookups (GetItem) and the rate and quota updates (2 UpdateItem).
    writes = {name: count for name, count in calls.items() if name not in ("GetItem", "UpdateItem")}
    assert writes == {"PutItem": 1, "BatchWriteItem": 40, "SendMessageBatch": 100}, calls
    assert calls["UpdateItem"] == 2, calls
    print(f"\n1,000-item batch: {sum(writes.values())} AWS requests, {elapsed:.2f} s on in-process moto")

    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = sqs.get_queue_attributes(
        QueueUrl=aws_stack.resources.capture_queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert int(attributes["ApproximateNumberOfMessages"]) == 1000
    status, view, _ = call(api_module, "GET", f"/v1/batches/{body['batchId']}")
    assert status == 200 and view["counts"]["queued"] == 1000 and len(view["jobs"]) == 1000


def test_a_body_that_is_not_utf8_is_a_422_not_a_500(aws_stack: Aws, api_module: ModuleType) -> None:
    # Found by schemathesis: such a body reaches the function base64-encoded and failed to decode.
    status, body, _ = call(api_module, "POST", "/v1/capture", raw=b"Qj\x0f\xffu\x00w\xfe~;")
    assert status == 422 and body["error"]["details"][0]["field"] == "body", body


def test_another_tenants_ids_reach_nothing(aws_stack: Aws, api_module: ModuleType) -> None:
    """Every read or action by id, with tenant A's ids and tenant B's key: the same 404 as a made-up id."""
    job_id = _submit(api_module, webhookUrl="https://hooks.example.com/a")
    _finish(aws_stack, job_id)
    _, batch, _ = call(api_module, "POST", "/v1/batches", {"items": ["https://example.com/b"]})
    _, capture, _ = call(api_module, "POST", "/v1/capture", {"url": "https://example.com/c"})
    attempts = [
        ("GET", f"/v1/screenshots/{job_id}"),
        ("GET", f"/v1/screenshots/{job_id}/deliveries"),
        ("POST", f"/v1/screenshots/{job_id}/redeliver"),
        ("DELETE", f"/v1/screenshots/{job_id}"),
        ("GET", f"/v1/capture/{capture['capture_id']}"),
        ("GET", f"/v1/batches/{batch['batchId']}"),
    ]
    for method, path in attempts:
        status, body, _ = call(api_module, method, path, key=KEY_B)
        assert status == 404 and body["error"]["code"] == "not_found", (method, path, body)
    _, listed, _ = call(api_module, "GET", "/v1/screenshots", key=KEY_B)
    assert listed["data"] == []
    status, job, _ = call(api_module, "GET", f"/v1/screenshots/{job_id}")  # still there for its owner
    assert status == 200 and f"/tenant-a/{job_id}" in job["screenshotUrl"]  # the image sits under its tenant


def test_a_batch_lists_its_jobs_in_item_order(aws_stack: Aws, api_module: ModuleType) -> None:
    """Ids made in one millisecond would sort by their random part: GET must list the items as submitted."""
    items = [f"https://example.com/page/{n}" for n in range(60)]
    status, created, _ = call(api_module, "POST", "/v1/batches", {"items": items})
    assert status == 202, created
    status, batch, _ = call(api_module, "GET", f"/v1/batches/{created['batchId']}")
    assert status == 200, batch
    assert [job["jobId"] for job in batch["jobs"]] == created["jobIds"]
    for job_id, url in zip(created["jobIds"][:5], items, strict=False):
        _, job, _ = call(api_module, "GET", f"/v1/screenshots/{job_id}")
        assert job["url"] == url
