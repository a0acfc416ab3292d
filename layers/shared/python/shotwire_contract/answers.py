"""The API's answers, field for field: the server builds them, the OpenAPI document describes them, the SDK
reads them. A field that is `None` is left out of the JSON (the API omits what does not apply), except those a
model names in `_nullable`, which are always sent.

The document marks every answer closed (`additionalProperties: false`), so a contract test catches a field the
server sends and the contract does not name; reading ignores unknown fields, so an older SDK keeps working
against a newer server.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from shotwire_contract.enums import ErrorCode, ImageFormat, JobStatus, WebhookStatus

CaptureStatus = Literal["accepted", "processing", "success", "failed"]
BatchStatus = Literal["processing", "completed"]


class Answer(BaseModel):
    """Base of every answer: camelCase on the wire, snake_case in Python, absent fields left out."""

    model_config = ConfigDict(
        populate_by_name=True,
        serialize_by_alias=True,
        extra="ignore",
        json_schema_extra={"additionalProperties": False},
    )
    # Wire names sent as null when they hold None (e.g. the last page's nextCursor).
    _nullable: ClassVar[frozenset[str]] = frozenset()

    # No return annotation: with one, pydantic would describe every answer as that type (a bare object).
    @model_serializer(mode="wrap")
    def _omit_absent(self, handler: SerializerFunctionWrapHandler):
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None or key in self._nullable}

    def to_json(self) -> dict[str, Any]:
        """The JSON object the API sends."""
        return self.model_dump(mode="json")


class WebhookAttempt(Answer):
    """One try at delivering a webhook."""

    attempt: int
    at: str = Field(description="When the attempt was made (ISO 8601, UTC).")
    status_code: int | None = Field(default=None, alias="statusCode")
    error_class: str | None = Field(
        default=None,
        alias="errorClass",
        description="dns, connect, tls, timeout, ssrf_blocked or http_status; absent when delivered.",
    )
    error: str | None = None
    duration_ms: int = Field(alias="durationMs")
    response_body: str | None = Field(default=None, alias="responseBody", description="The first 2 KB.")
    next_attempt_at: str | None = Field(default=None, alias="nextAttemptAt")


class WebhookInfo(Answer):
    """A job's (or batch's) current webhook delivery."""

    url: str
    status: WebhookStatus | None = None
    attempts: list[WebhookAttempt] | None = None


class JobAnswer(Answer):
    """A job as `GET /v1/screenshots/{id}` shows it; `screenshotUrl` and the capture's findings once completed,
    `error` and `errorCode` once failed."""

    job_id: str = Field(alias="jobId")
    status: JobStatus
    url: str
    width: int = Field(description="The image's width once captured, else the requested viewport's.")
    height: int
    format: ImageFormat
    full_page: bool = Field(alias="fullPage")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    request: dict[str, Any] = Field(description="The options as resolved, header and cookie values redacted.")
    batch_id: str | None = Field(default=None, alias="batchId")
    external_id: str | None = Field(default=None, alias="externalId")
    metadata: dict[str, Any] | None = None
    screenshot_url: str | None = Field(default=None, alias="screenshotUrl", description="A signed download link.")
    image_bytes: int | None = Field(default=None, alias="imageBytes")
    final_url: str | None = Field(default=None, alias="finalUrl")
    http_status: int | None = Field(default=None, alias="httpStatus")
    title: str | None = None
    bytes: int | None = None
    truncated: bool | None = None
    warnings: list[str] | None = None
    timings: dict[str, int] | None = None
    error: str | None = None
    error_code: ErrorCode | None = Field(default=None, alias="errorCode")
    webhook: WebhookInfo | None = None


class AcceptedJob(Answer):
    job_id: str = Field(alias="jobId")
    status: JobStatus
    created_at: str = Field(alias="createdAt")


class JobPage(Answer):
    """One page of `GET /v1/screenshots`, newest first."""

    _nullable = frozenset({"nextCursor"})

    data: list[JobAnswer]
    next_cursor: str | None = Field(alias="nextCursor", description="Pass back as cursor; null on the last page.")


class AcceptedCapture(Answer):
    status: Literal["accepted"]
    capture_id: str


class CaptureAnswer(Answer):
    """The capture-style face of a job (`GET /v1/capture/{id}`, and the webhook of `POST /v1/capture` jobs)."""

    _nullable = frozenset({"captured_at"})

    capture_id: str
    status: CaptureStatus
    image: str | None = None
    width: int
    height: int
    format: ImageFormat
    captured_at: str | None
    error: str | None = None


class AcceptedBatch(Answer):
    batch_id: str = Field(alias="batchId")
    status: BatchStatus
    job_ids: list[str] = Field(alias="jobIds")


class BatchMember(Answer):
    job_id: str = Field(alias="jobId")
    status: JobStatus


class BatchAnswer(Answer):
    batch_id: str = Field(alias="batchId")
    status: BatchStatus
    total: int
    counts: dict[str, int] = Field(description="Members by status.")
    created_at: str = Field(alias="createdAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    jobs: list[BatchMember]
    webhook: WebhookInfo | None = None


class Delivery(Answer):
    """One delivery of a job's outcome; a redelivery supersedes it with a new one (a new webhookId)."""

    webhook_id: str = Field(alias="webhookId")
    url: str | None = None
    status: WebhookStatus
    attempts: list[WebhookAttempt]
    superseded: bool = False


class DeliveriesAnswer(Answer):
    """`GET /v1/screenshots/{id}/deliveries`: superseded deliveries first, the current one last."""

    job_id: str = Field(alias="jobId")
    deliveries: list[Delivery]


class RedeliveryStarted(Answer):
    job_id: str = Field(alias="jobId")
    webhook_id: str = Field(alias="webhookId")
    delivery: int
    status: Literal["pending"]


class WebhookTestAnswer(Answer):
    """What the receiver answered a signed `webhook.test` event."""

    _nullable = frozenset({"statusCode"})

    webhook_id: str = Field(alias="webhookId")
    url: str
    delivered: bool
    status_code: int | None = Field(alias="statusCode")
    duration_ms: int = Field(alias="durationMs")
    error_class: str | None = Field(default=None, alias="errorClass")
    error: str | None = None
    response_body: str | None = Field(default=None, alias="responseBody")


class SecretRotated(Answer):
    """The new webhook secret, shown once."""

    _nullable = frozenset({"previousSecretValidUntil"})

    webhook_secret: str = Field(alias="webhookSecret")
    rotated_at: str = Field(alias="rotatedAt")
    previous_secret_valid_until: str | None = Field(alias="previousSecretValidUntil")


class Health(Answer):
    status: Literal["ok"]


class EgressIps(Answer):
    """The addresses webhooks (and, if so deployed, page loads) come from; `static` false: no fixed ones."""

    egress_ips: list[str] = Field(alias="egressIps")
    static: bool
