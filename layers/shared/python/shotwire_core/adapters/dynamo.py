"""DynamoDB: the jobs table (tenantId + jobId) and the keys table (API-key hashes and tenants)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from shotwire_core.adapters.aws import BULK_WORKERS, client
from shotwire_core.batches import BatchProgress
from shotwire_core.circuit import HostHealth, SlotLease
from shotwire_core.errors import StaleJobError
from shotwire_core.models import (
    DELIVERY_PREFIX,
    ApiKeyRecord,
    BatchRecord,
    DeliveryHistory,
    DeliveryRecord,
    Job,
    JobStatus,
    Tenant,
    WebhookAttempt,
    WebhookStatus,
    delivery_key,
)

if TYPE_CHECKING:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer


# boto3.dynamodb.types imports boto3's whole package first: left to the first DynamoDB call, as in client().
@cache
def _serializer() -> TypeSerializer:
    from boto3.dynamodb.types import TypeSerializer

    return TypeSerializer()


@cache
def _deserializer() -> TypeDeserializer:
    from boto3.dynamodb.types import TypeDeserializer

    return TypeDeserializer()


def _decimals(value: Any) -> Any:
    """DynamoDB numbers must be Decimal; boto3 refuses Python floats."""
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _decimals(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_decimals(item) for item in value]
    return value


def _to_ddb(item: dict[str, Any]) -> dict[str, Any]:
    serialize = _serializer().serialize
    return {key: serialize(_decimals(value)) for key, value in item.items()}


def _plain_numbers(value: Any) -> Any:
    """DynamoDB numbers come back as Decimal; hand the rest of the code the JSON numbers that were stored."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _plain_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(item) for item in value]
    return value


def _from_ddb(item: dict[str, Any]) -> dict[str, Any]:
    deserialize = _deserializer().deserialize
    return {key: _plain_numbers(deserialize(value)) for key, value in item.items()}


def _values(values: dict[str, Any]) -> dict[str, Any]:
    serialize = _serializer().serialize
    return {key: serialize(_decimals(value)) for key, value in values.items()}


def _conditional_update(ddb: Any, **request: Any) -> bool:
    """An UpdateItem with a ConditionExpression: True when it applied, False when the condition did not hold."""
    try:
        ddb.update_item(**request)
    except ClientError as error:
        if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


class JobTable:
    """Jobs keyed by tenant and job id, so every read is scoped to its tenant by construction."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def create(self, job: Job) -> None:
        self._ddb.put_item(
            TableName=self.table_name,
            Item=_to_ddb(job.to_item()),
            ConditionExpression="attribute_not_exists(jobId)",
        )

    def create_batch(self, record: BatchRecord) -> None:
        self._ddb.put_item(
            TableName=self.table_name,
            Item=_to_ddb(record.to_item()),
            ConditionExpression="attribute_not_exists(jobId)",
        )

    def _item(self, tenant_id: str, key: str) -> dict[str, Any] | None:
        """One item of the tenant's partition, read consistently (a write just made is seen)."""
        response = self._ddb.get_item(
            TableName=self.table_name, Key=_to_ddb({"tenantId": tenant_id, "jobId": key}), ConsistentRead=True
        )
        item = response.get("Item")
        return _from_ddb(item) if item else None

    def get_batch(self, tenant_id: str, batch_id: str) -> BatchRecord | None:
        item = self._item(tenant_id, batch_id)
        return BatchRecord.model_validate(item) if item else None

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        item = self._item(tenant_id, job_id)
        return Job.model_validate(item) if item else None

    def list_recent(
        self, tenant_id: str, limit: int, before_job_id: str | None = None, status: str | None = None
    ) -> tuple[list[Job], bool]:
        """Up to `limit` of the tenant's jobs, newest first (job ids sort by creation time), older than
        `before_job_id` if given; True when more may follow."""
        # Only job items ("job_" + base32; "~" sorts after every id character), older than the cursor's job.
        key_condition = "tenantId = :tenant AND jobId BETWEEN :low AND :high"
        values: dict[str, Any] = {":tenant": tenant_id, ":low": "job_", ":high": before_job_id or "job_~"}
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": key_condition,
            "ScanIndexForward": False,
        }
        if status:
            query["FilterExpression"] = "#status = :status"
            query["ExpressionAttributeNames"] = {"#status": "status"}
            values[":status"] = status
        query["ExpressionAttributeValues"] = _values(values)
        found: list[Job] = []
        while True:
            # A filtered page may hold few matches: read on until the page is full or the partition ends.
            response = self._ddb.query(**query, Limit=max(limit - len(found), 25 if status else 1))
            for item in response.get("Items", []):
                if len(found) == limit:
                    return found, True
                job = Job.model_validate(_from_ddb(item))
                if job.job_id != before_job_id:  # BETWEEN includes the cursor's own job
                    found.append(job)
            last = response.get("LastEvaluatedKey")
            if last is None:
                return found, False
            if len(found) == limit:
                return found, True
            query["ExclusiveStartKey"] = last

    def create_many(self, jobs: list[Job]) -> None:
        """Write new jobs 25 to a request (BatchWriteItem), several requests at once, retrying what DynamoDB
        left unprocessed."""
        chunks = [jobs[start : start + 25] for start in range(0, len(jobs), 25)]
        with ThreadPoolExecutor(max_workers=BULK_WORKERS) as pool:
            list(pool.map(self._write_chunk, chunks))

    def _write_chunk(self, jobs: list[Job]) -> None:
        self._batch_write([{"PutRequest": {"Item": _to_ddb(job.to_item())}} for job in jobs])

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """One BatchWriteItem of at most 25 puts or deletes, retrying what DynamoDB left unprocessed."""
        pending: dict[str, Any] = {self.table_name: requests}
        for attempt in range(8):
            unprocessed = self._ddb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not unprocessed:
                return
            pending = unprocessed
            time.sleep(min(1.0, 0.05 * 2**attempt))
        raise RuntimeError(f"DynamoDB left {len(pending[self.table_name])} writes unprocessed")

    def count_batch_member(self, tenant_id: str, batch_id: str, job_id: str, completed: bool) -> BatchProgress:
        """Add a finished member to its batch's completed or failed set (adding twice changes nothing)."""
        attribute = "batchCompleted" if completed else "batchFailed"
        response = self._ddb.update_item(
            TableName=self.table_name,
            Key=_to_ddb({"tenantId": tenant_id, "jobId": batch_id}),
            UpdateExpression=f"ADD {attribute} :member",
            ConditionExpression="attribute_exists(jobId)",
            ExpressionAttributeValues={":member": {"SS": [job_id]}},
            ReturnValues="ALL_NEW",
        )
        record = response["Attributes"]
        return BatchProgress(
            total=int(record["batchTotal"]["N"]),
            completed=len(record.get("batchCompleted", {}).get("SS", [])),
            failed=len(record.get("batchFailed", {}).get("SS", [])),
        )

    def finish_batch(self, tenant_id: str, batch_id: str, now: str, counts: dict[str, int]) -> bool:
        """processing -> completed, once; False when another event got there first."""
        return _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=_to_ddb({"tenantId": tenant_id, "jobId": batch_id}),
            UpdateExpression="SET #status = :completed, completedAt = :now, updatedAt = :now, batchCounts = :counts",
            ConditionExpression="attribute_exists(jobId) AND #status = :processing",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_values(
                {
                    ":completed": JobStatus.COMPLETED.value,
                    ":processing": JobStatus.PROCESSING.value,
                    ":now": now,
                    ":counts": counts,
                }
            ),
        )

    def statuses(self, tenant_id: str, job_ids: list[str]) -> dict[str, str]:
        """job id -> status, read 100 at a time (BatchGetItem)."""
        found: dict[str, str] = {}
        for start in range(0, len(job_ids), 100):
            keys = [_to_ddb({"tenantId": tenant_id, "jobId": job_id}) for job_id in job_ids[start : start + 100]]
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": keys,
                    "ProjectionExpression": "jobId, #status",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ConsistentRead": True,
                }
            }
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.table_name, []):
                    found[item["jobId"]["S"]] = item["status"]["S"]
                request = response.get("UnprocessedKeys") or {}
        return found

    def member_ids(self, tenant_id: str, batch_id: str, id_range: tuple[str, str]) -> list[str]:
        """A batch's jobs in id order, read from the key range they were created in (job ids sort by
        creation time, so only jobs created during the batch's own submission are read besides them)."""
        ids: list[str] = []
        low, high = id_range
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "tenantId = :tenant AND jobId BETWEEN :low AND :high",
            "FilterExpression": "batchId = :batch",
            "ProjectionExpression": "jobId",
            "ExpressionAttributeValues": _values(
                {":tenant": tenant_id, ":low": low, ":high": high, ":batch": batch_id}
            ),
        }
        while True:
            response = self._ddb.query(**query)
            ids += [item["jobId"]["S"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return ids
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, tenant_id: str, job_id: str) -> None:
        """The job and its deliveries (their payloads hold its URL and metadata)."""
        self._ddb.delete_item(TableName=self.table_name, Key=_to_ddb({"tenantId": tenant_id, "jobId": job_id}))
        self._delete_deliveries(tenant_id, job_id)

    def _update(
        self,
        tenant_id: str,
        job_id: str,
        fields: dict[str, Any],
        condition: str | None = None,
        condition_values: dict[str, Any] | None = None,
        extra_set: str = "",
    ) -> Job:
        names = {f"#{key}": key for key in fields}
        values = {f":{key}": value for key, value in fields.items()}
        values.update(condition_values or {})
        expression = "SET " + ", ".join(f"#{key} = :{key}" for key in fields) + extra_set
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": _to_ddb({"tenantId": tenant_id, "jobId": job_id}),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": _values(values),
            "ReturnValues": "ALL_NEW",
        }
        request["ConditionExpression"] = "attribute_exists(jobId)" + (f" AND ({condition})" if condition else "")
        try:
            response = self._ddb.update_item(**request)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleJobError(f"job {job_id} was not in the expected state") from error
            raise
        return Job.model_validate(_from_ddb(response["Attributes"]))

    def mark_processing(self, tenant_id: str, job_id: str, now: str) -> Job:
        """queued -> processing (also processing -> processing when a capture is retried)."""
        return self._update(
            tenant_id,
            job_id,
            {"status": JobStatus.PROCESSING.value, "startedAt": now, "updatedAt": now},
            condition="#status IN (:queued, :processing)",
            condition_values={":queued": JobStatus.QUEUED.value, ":processing": JobStatus.PROCESSING.value},
        )

    def mark_completed(self, tenant_id: str, job_id: str, now: str, result: dict[str, Any]) -> Job:
        fields = {"status": JobStatus.COMPLETED.value, "completedAt": now, "updatedAt": now, **result}
        return self._update(
            tenant_id,
            job_id,
            fields,
            condition="#status = :processing",
            condition_values={":processing": JobStatus.PROCESSING.value},
        )

    def mark_failed(self, tenant_id: str, job_id: str, now: str, error: str, code: str = "internal_error") -> Job:
        fields = {
            "status": JobStatus.FAILED.value,
            "completedAt": now,
            "updatedAt": now,
            "error": error,
            "errorCode": code,
        }
        return self._update(
            tenant_id,
            job_id,
            fields,
            condition="NOT #status IN (:completed, :failed)",
            condition_values={":completed": JobStatus.COMPLETED.value, ":failed": JobStatus.FAILED.value},
        )

    def start_redelivery(self, job: Job, now: str) -> Job:
        """Make the next delivery the job's current one (its record is opened by the caller).

        Conditional on the delivery number read, so two concurrent redeliveries cannot both win.
        """
        return self._update(
            job.tenant_id,
            job.job_id,
            {"deliveryNumber": job.delivery_number + 1, "webhookStatus": WebhookStatus.PENDING.value, "updatedAt": now},
            condition="attribute_not_exists(deliveryNumber) OR deliveryNumber = :current",
            condition_values={":current": job.delivery_number},
        )

    # --- deliveries: items of their own beside their job (see models.DeliveryRecord) ---------------------

    def open_delivery(self, record: DeliveryRecord) -> DeliveryRecord:
        """Write a new delivery; when it exists already (a duplicate outcome event), the stored one."""
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=_to_ddb(record.to_item()),
                ConditionExpression="attribute_not_exists(jobId)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            stored = self.get_delivery(record.tenant_id, record.subject_id, record.number)
            if stored is not None:
                return stored
            raise
        return record

    def get_delivery(self, tenant_id: str, subject_id: str, number: int) -> DeliveryRecord | None:
        item = self._item(tenant_id, delivery_key(subject_id, number))
        return DeliveryRecord.model_validate(item) if item else None

    def _delivery_items(self, tenant_id: str, subject_id: str) -> Iterator[dict[str, Any]]:
        """A job's or batch's delivery and attempt items, in key order (each delivery before its attempts)."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "tenantId = :tenant AND begins_with(jobId, :prefix)",
            "ExpressionAttributeValues": _values({":tenant": tenant_id, ":prefix": f"{DELIVERY_PREFIX}{subject_id}#"}),
            "ConsistentRead": True,
        }
        while True:
            response = self._ddb.query(**query)
            yield from (_from_ddb(raw) for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def deliveries(self, tenant_id: str, subject_id: str) -> DeliveryHistory:
        """Every delivery of a job or batch, oldest first, each with its attempts in order: one query."""
        found: DeliveryHistory = []
        for item in self._delivery_items(tenant_id, subject_id):
            if "subjectId" in item:
                found.append((DeliveryRecord.model_validate(item), []))
            elif found:
                found[-1][1].append(WebhookAttempt.model_validate(item))
        return found

    def record_delivery_attempt(
        self, record: DeliveryRecord, attempt: WebhookAttempt, status: WebhookStatus, now: str
    ) -> None:
        """Count an attempt into its delivery and store it beside it; then the subject's summary status.
        StaleJobError if the delivery was superseded (or another attempt was counted) meanwhile."""
        sequence = record.attempt_count + 1
        applied = _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=_to_ddb({"tenantId": record.tenant_id, "jobId": record.key}),
            UpdateExpression="SET #status = :status, attemptCount = :sequence, updatedAt = :now",
            ConditionExpression="attemptCount = :seen AND superseded = :false",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=_values(
                {
                    ":status": status.value,
                    ":sequence": sequence,
                    ":now": now,
                    ":seen": record.attempt_count,
                    ":false": False,
                }
            ),
        )
        if not applied:
            raise StaleJobError(f"delivery {record.webhook_id} moved on while this attempt was made")
        item = {"tenantId": record.tenant_id, "jobId": record.attempt_key(sequence), **attempt.to_json()}
        if record.expires_at is not None:
            item["expiresAt"] = record.expires_at
        self._ddb.put_item(TableName=self.table_name, Item=_to_ddb(item))
        if status is not record.status:
            self._summarize(record, status, now)

    def _summarize(self, record: DeliveryRecord, status: WebhookStatus, now: str) -> None:
        """The subject's webhookStatus, while this delivery is its current one."""
        _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=_to_ddb({"tenantId": record.tenant_id, "jobId": record.subject_id}),
            UpdateExpression="SET webhookStatus = :status, updatedAt = :now",
            ConditionExpression="attribute_exists(jobId) AND (deliveryNumber = :number OR "
            "(attribute_not_exists(deliveryNumber) AND :number = :first))",
            ExpressionAttributeValues=_values(
                {":status": status.value, ":now": now, ":number": record.number, ":first": 1}
            ),
        )

    def supersede_delivery(self, tenant_id: str, subject_id: str, number: int, now: str) -> None:
        """Mark a delivery replaced by a redelivery: its pending retries stop at their next attempt."""
        _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=_to_ddb({"tenantId": tenant_id, "jobId": delivery_key(subject_id, number)}),
            UpdateExpression="SET superseded = :true, updatedAt = :now",
            ConditionExpression="attribute_exists(jobId)",
            ExpressionAttributeValues=_values({":true": True, ":now": now}),
        )

    def reopen_delivery(self, tenant_id: str, subject_id: str, number: int, now: str) -> DeliveryRecord:
        """Make a parked delivery deliverable again (a DLQ redrive): pending, so its schedule starts over with a
        first attempt; StaleJobError if it was delivered, is already under way again, was superseded or is gone."""
        try:
            response = self._ddb.update_item(
                TableName=self.table_name,
                Key=_to_ddb({"tenantId": tenant_id, "jobId": delivery_key(subject_id, number)}),
                UpdateExpression="SET #status = :pending, updatedAt = :now",
                ConditionExpression="attribute_exists(jobId) AND superseded = :false "
                "AND #status IN (:failed, :pending)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=_values(
                    {
                        ":now": now,
                        ":false": False,
                        ":failed": WebhookStatus.FAILED.value,
                        ":pending": WebhookStatus.PENDING.value,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleJobError(f"delivery {number} of {subject_id} cannot be reopened") from error
            raise
        record = DeliveryRecord.model_validate(_from_ddb(response["Attributes"]))
        self._summarize(record, WebhookStatus.PENDING, now)
        return record

    def _delete_deliveries(self, tenant_id: str, subject_id: str) -> None:
        keys = [item["jobId"] for item in self._delivery_items(tenant_id, subject_id)]
        for start in range(0, len(keys), 25):
            self._batch_write(
                [
                    {"DeleteRequest": {"Key": _to_ddb({"tenantId": tenant_id, "jobId": key})}}
                    for key in keys[start : start + 25]
                ]
            )


class HostTable:
    """Health of webhook destinations (see shotwire_core.circuit), kept in the jobs table under a
    partition no tenant can have ('#hosts'); an item expires a week after its last write."""

    PARTITION = "#hosts"
    # In-flight slot n is the attribute slot<n>, holding its lease's expiry.
    SLOT_PREFIX = "slot"
    TTL_SECONDS = 7 * 24 * 3600

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def _key(self, destination: str) -> dict[str, Any]:
        return _to_ddb({"tenantId": self.PARTITION, "jobId": destination})

    def _expiry(self) -> int:
        return int(time.time()) + self.TTL_SECONDS

    def get_host(self, destination: str) -> HostHealth:
        item = self._ddb.get_item(TableName=self.table_name, Key=self._key(destination), ConsistentRead=True).get(
            "Item"
        )
        if not item:
            return HostHealth()
        record = _from_ddb(item)
        slots = {
            int(name[len(self.SLOT_PREFIX) :]): float(value)
            for name, value in record.items()
            if name.startswith(self.SLOT_PREFIX) and name[len(self.SLOT_PREFIX) :].isdigit()
        }
        return HostHealth(
            failures=int(record.get("failures", 0)), open_until=float(record.get("openUntil", 0)), slot_leases=slots
        )

    def add_host_failure(self, destination: str) -> int:
        response = self._ddb.update_item(
            TableName=self.table_name,
            Key=self._key(destination),
            UpdateExpression="ADD failures :one SET expiresAt = :expires",
            ExpressionAttributeValues=_values({":one": 1, ":expires": self._expiry()}),
            ReturnValues="UPDATED_NEW",
        )
        return int(_from_ddb(response["Attributes"])["failures"])

    def open_host(self, destination: str, until: float) -> None:
        self._ddb.update_item(
            TableName=self.table_name,
            Key=self._key(destination),
            UpdateExpression="SET openUntil = :until, expiresAt = :expires",
            ExpressionAttributeValues=_values({":until": until, ":expires": self._expiry()}),
        )

    def close_host(self, destination: str) -> None:
        """Reset the count; written only when there was something to reset, so healthy hosts cost a read."""
        _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=self._key(destination),
            UpdateExpression="SET failures = :zero, openUntil = :zero REMOVE probeUntil",
            ConditionExpression="attribute_exists(jobId) AND failures > :zero",
            ExpressionAttributeValues=_values({":zero": 0}),
        )

    def claim_probe(self, destination: str, now: float, lease_seconds: int) -> bool:
        return _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=self._key(destination),
            UpdateExpression="SET probeUntil = :lease",
            ConditionExpression="attribute_not_exists(probeUntil) OR probeUntil < :now",
            ExpressionAttributeValues=_values({":lease": now + lease_seconds, ":now": now}),
        )

    def claim_slot(self, destination: str, index: int, now: float, expires: float) -> bool:
        """Take in-flight slot `index` if it is free or its lease ran out (a conditional write)."""
        return _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=self._key(destination),
            UpdateExpression="SET #slot = :expires, expiresAt = :ttl",
            ConditionExpression="attribute_not_exists(#slot) OR #slot <= :now",
            ExpressionAttributeNames={"#slot": f"{self.SLOT_PREFIX}{index}"},
            ExpressionAttributeValues=_values({":expires": expires, ":now": now, ":ttl": self._expiry()}),
        )

    def release_slot(self, destination: str, lease: SlotLease) -> None:
        """Give the slot back, unless its lease ran out and someone else holds it now."""
        _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=self._key(destination),
            UpdateExpression="REMOVE #slot",
            ConditionExpression="#slot = :mine",
            ExpressionAttributeNames={"#slot": f"{self.SLOT_PREFIX}{lease.index}"},
            ExpressionAttributeValues=_values({":mine": lease.expires}),
        )


class KeyTable:
    """API keys (stored as SHA-256 hashes) and tenants, in one table with prefixed partition keys."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name

    @property
    def _ddb(self) -> Any:
        return client("dynamodb")

    def put_tenant(self, tenant: Tenant) -> None:
        item = {"pk": f"tenant#{tenant.tenant_id}", **tenant.model_dump(mode="json", exclude_none=True)}
        self._ddb.put_item(TableName=self.table_name, Item=_to_ddb(item))

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        response = self._ddb.get_item(
            TableName=self.table_name, Key=_to_ddb({"pk": f"tenant#{tenant_id}"}), ConsistentRead=True
        )
        item = response.get("Item")
        return Tenant.model_validate(_from_ddb(item)) if item else None

    def replace_webhook_secret(self, rotated: Tenant, expected_secret: str) -> bool:
        """Store a rotated tenant unless its secret changed meanwhile (a concurrent rotation); False then."""
        item = {"pk": f"tenant#{rotated.tenant_id}", **rotated.model_dump(mode="json", exclude_none=True)}
        try:
            self._ddb.put_item(
                TableName=self.table_name,
                Item=_to_ddb(item),
                ConditionExpression="webhookSecret = :expected",
                ExpressionAttributeValues=_to_ddb({":expected": expected_secret}),
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    # Limits state (shotwire_core.limits): one rate item and one usage item per month per tenant.
    def rate_state(self, tenant_id: str) -> float | None:
        item = self._ddb.get_item(
            TableName=self.table_name, Key=_to_ddb({"pk": f"rate#{tenant_id}"}), ConsistentRead=True
        ).get("Item")
        return float(_from_ddb(item)["arrival"]) if item else None

    def replace_rate_state(self, tenant_id: str, expected: float | None, new: float) -> bool:
        condition = "attribute_not_exists(pk)" if expected is None else "arrival = :expected"
        values = {":new": new} if expected is None else {":new": new, ":expected": expected}
        return _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=_to_ddb({"pk": f"rate#{tenant_id}"}),
            UpdateExpression="SET arrival = :new",
            ConditionExpression=condition,
            ExpressionAttributeValues=_values(values),
        )

    def add_usage(self, tenant_id: str, month: str, count: int, quota: int) -> bool:
        """Add `count` captures to the month unless that would pass `quota` (atomic)."""
        return _conditional_update(
            self._ddb,
            TableName=self.table_name,
            Key=_to_ddb({"pk": f"usage#{tenant_id}#{month}"}),
            UpdateExpression="ADD captures :count",
            ConditionExpression="attribute_not_exists(captures) OR captures <= :room",
            ExpressionAttributeValues=_values({":count": count, ":room": quota - count}),
        )

    def put_key(self, key_hash: str, record: ApiKeyRecord) -> None:
        item = {"pk": f"key#{key_hash}", **record.model_dump(mode="json", exclude_none=True)}
        self._ddb.put_item(TableName=self.table_name, Item=_to_ddb(item))

    def _scan(self, prefix: str, **filters: str) -> list[dict[str, Any]]:
        """Items whose pk starts with `prefix` (and whose attributes equal `filters`): admin listings only."""
        expression = "begins_with(pk, :prefix)"
        values: dict[str, Any] = {":prefix": prefix}
        for n, (name, value) in enumerate(sorted(filters.items())):
            expression += f" AND {name} = :v{n}"
            values[f":v{n}"] = value
        items: list[dict[str, Any]] = []
        for page in self._ddb.get_paginator("scan").paginate(
            TableName=self.table_name, FilterExpression=expression, ExpressionAttributeValues=_values(values)
        ):
            items.extend(_from_ddb(item) for item in page.get("Items", []))
        return items

    def list_tenants(self) -> list[Tenant]:
        tenants = [Tenant.model_validate(item) for item in self._scan("tenant#")]
        return sorted(tenants, key=lambda tenant: (tenant.created_at or "", tenant.tenant_id))

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKeyRecord]:
        filters = {"tenantId": tenant_id} if tenant_id else {}
        keys = [ApiKeyRecord.model_validate(item) for item in self._scan("key#", **filters) if "keyId" in item]
        return sorted(keys, key=lambda key: (key.tenant_id, key.created_at, key.key_id))

    def revoke_key(self, key_id: str, now: str) -> ApiKeyRecord | None:
        found = self._scan("key#", keyId=key_id)
        if not found:
            return None
        response = self._ddb.update_item(
            TableName=self.table_name,
            Key=_to_ddb({"pk": found[0]["pk"]}),
            UpdateExpression="SET revokedAt = if_not_exists(revokedAt, :now)",
            ExpressionAttributeValues=_values({":now": now}),
            ReturnValues="ALL_NEW",
        )
        return ApiKeyRecord.model_validate(_from_ddb(response["Attributes"]))

    def tenant_for_key(self, key_hash: str) -> str | None:
        response = self._ddb.get_item(TableName=self.table_name, Key=_to_ddb({"pk": f"key#{key_hash}"}))
        item = response.get("Item")
        if not item:
            return None
        record = _from_ddb(item)
        if record.get("revokedAt"):
            return None
        return str(record["tenantId"])
