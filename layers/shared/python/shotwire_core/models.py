"""What the service keeps and passes between its functions: jobs, tenants, keys, queue and bus messages.

The API's own requests and answers, its limits and enumerations, live in the contract package
(shotwire_contract), which the SDK ships too; they are re-exported here for the service's modules.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shotwire_contract.answers import (
    AcceptedBatch,
    AcceptedCapture,
    AcceptedJob,
    BatchAnswer,
    CaptureAnswer,
    DeliveriesAnswer,
    EgressIps,
    Health,
    JobAnswer,
    JobPage,
    WebhookAttempt,
)
from shotwire_contract.enums import BlockableResource, ErrorCode, ImageFormat, JobStatus, WaitUntil, WebhookStatus
from shotwire_contract.limits import (
    CONTENT_TYPES,
    DEFAULT_HEIGHT,
    DEFAULT_QUALITY,
    DEFAULT_WIDTH,
    FILE_EXTENSIONS,
    FORBIDDEN_HEADERS,
    MAX_BATCH_ITEMS,
    MAX_CAPTURE_HEIGHT,
    MAX_EXTERNAL_ID_CHARS,
    MAX_IMAGE_PIXELS,
    MAX_METADATA_BYTES,
    MAX_URL_LENGTH,
    MAX_VIEWPORT,
)
from shotwire_contract.requests import (
    URI,
    BatchRequest,
    CamelModel,
    CaptureRequest,
    Clip,
    Cookie,
    ScreenshotRequest,
    SecretRotationRequest,
    StoredCookie,
    WebhookTestRequest,
)

__all__ = [
    "CONTENT_TYPES",
    "DEFAULT_HEIGHT",
    "DEFAULT_WIDTH",
    "FILE_EXTENSIONS",
    "FORBIDDEN_HEADERS",
    "MAX_BATCH_ITEMS",
    "MAX_CAPTURE_HEIGHT",
    "MAX_EXTERNAL_ID_CHARS",
    "MAX_IMAGE_PIXELS",
    "MAX_METADATA_BYTES",
    "MAX_URL_LENGTH",
    "MAX_VIEWPORT",
    "URI",
    "AcceptedBatch",
    "AcceptedCapture",
    "AcceptedJob",
    "BatchAnswer",
    "BatchRequest",
    "CaptureAnswer",
    "CaptureRequest",
    "Clip",
    "Cookie",
    "DeliveriesAnswer",
    "EgressIps",
    "ErrorCode",
    "Health",
    "ImageFormat",
    "JobAnswer",
    "JobPage",
    "JobStatus",
    "ScreenshotRequest",
    "SecretRotationRequest",
    "StoredCookie",
    "WebhookAttempt",
    "WebhookStatus",
    "WebhookTestRequest",
]

# Fields of a request that say where the outcome goes, not what to capture.
_DESTINATION_FIELDS = frozenset({"webhook_url", "metadata", "external_id"})


class CaptureOptions(CamelModel):
    """What to capture: the validated request with defaults and device presets resolved.

    Stored on the job, echoed back (with header and cookie values redacted) and handed to the browser.
    """

    url: str
    width: int = DEFAULT_WIDTH
    height: int = DEFAULT_HEIGHT
    device: str | None = None
    device_scale_factor: float = Field(default=1, alias="deviceScaleFactor")
    is_mobile: bool = Field(default=False, alias="isMobile")
    has_touch: bool = Field(default=False, alias="hasTouch")
    format: ImageFormat = "png"
    quality: int | None = None
    omit_background: bool = Field(default=False, alias="omitBackground")
    full_page: bool = Field(default=False, alias="fullPage")
    max_height: int = Field(default=MAX_CAPTURE_HEIGHT, alias="maxHeight")
    selector: str | None = None
    clip: Clip | None = None
    wait_until: WaitUntil = Field(default="load", alias="waitUntil")
    wait_for_selector: str | None = Field(default=None, alias="waitForSelector")
    delay_ms: int = Field(default=0, alias="delayMs")
    timeout_ms: int = Field(default=30_000, alias="timeoutMs")
    dark_mode: bool = Field(default=False, alias="darkMode")
    reduced_motion: bool = Field(default=False, alias="reducedMotion")
    hide_selectors: tuple[str, ...] = Field(default=(), alias="hideSelectors")
    css: str | None = None
    javascript: str | None = None
    freeze_animations: bool = Field(default=True, alias="freezeAnimations")
    user_agent: str | None = Field(default=None, alias="userAgent")
    headers: dict[str, str] = Field(default_factory=dict)
    cookies: tuple[StoredCookie, ...] = ()
    block_resources: tuple[BlockableResource, ...] = Field(default=(), alias="blockResources")
    block_ads: bool = Field(default=False, alias="blockAds")
    block_cookie_banners: bool = Field(default=False, alias="blockCookieBanners")
    fail_on_http_error: bool = Field(default=False, alias="failOnHttpError")

    @property
    def effective_quality(self) -> int | None:
        if self.format in ("jpeg", "webp"):
            return self.quality or DEFAULT_QUALITY
        return None

    def echo(self) -> dict[str, Any]:
        """The options as the API shows them: secrets a caller sent (header values, cookies) redacted."""
        shown = self.model_dump(mode="json", exclude_none=True)
        if self.headers:
            shown["headers"] = {name: "***" for name in self.headers}
        if self.cookies:
            shown["cookies"] = [{"name": c.name, "value": "***"} for c in self.cookies]
        return shown


def capture_options(request: ScreenshotRequest, default_timeout_ms: int = 30_000) -> CaptureOptions:
    """What to capture: the request's capture fields, with the device preset and the service's default
    timeout filling in what the request did not say."""
    viewport = request.viewport()
    fields = request.model_dump(exclude=set(_DESTINATION_FIELDS))
    fields.update(viewport._asdict())
    fields["timeout_ms"] = request.timeout_ms or default_timeout_ms
    fields["block_resources"] = tuple(dict.fromkeys(request.block_resources))
    return CaptureOptions.model_validate(fields)


JobFace = Literal["screenshots", "capture"]


class Job(BaseModel):
    """A screenshot job as stored in the jobs table (camelCase attributes)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")
    status: JobStatus
    options: CaptureOptions
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    metadata: dict[str, Any] | None = None
    external_id: str | None = Field(default=None, alias="externalId")
    # Which API the job came in through; its webhook speaks that API's shape.
    face: JobFace = "screenshots"
    # Members carry their batch's id (the batch itself is a BatchRecord).
    batch_id: str | None = Field(default=None, alias="batchId")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    error: str | None = None
    error_code: ErrorCode | None = Field(default=None, alias="errorCode")
    image_key: str | None = Field(default=None, alias="imageKey")
    image_width: int | None = Field(default=None, alias="imageWidth")
    image_height: int | None = Field(default=None, alias="imageHeight")
    image_bytes: int | None = Field(default=None, alias="imageBytes")
    final_url: str | None = Field(default=None, alias="finalUrl")
    http_status: int | None = Field(default=None, alias="httpStatus")
    title: str | None = None
    truncated: bool = False
    warnings: list[str] = Field(default_factory=list)
    timings: dict[str, int] = Field(default_factory=dict)
    # The current delivery's status, kept here for views and lists; the deliveries themselves, with their
    # attempts, are records of their own (DeliveryRecord).
    webhook_status: WebhookStatus | None = Field(default=None, alias="webhookStatus")
    # Which delivery of this job's outcome is current: 1, then one more per `redeliver`.
    delivery_number: int = Field(default=1, alias="deliveryNumber")
    expires_at: int | None = Field(default=None, alias="expiresAt")

    @property
    def result_width(self) -> int:
        """The image's real width once captured, else the requested viewport width."""
        return self.image_width if self.image_width is not None else self.options.width

    @property
    def result_height(self) -> int:
        return self.image_height if self.image_height is not None else self.options.height

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class BatchRecord(BaseModel):
    """A batch as the jobs table keeps it (id `bat_…`, beside its jobs): its size, where its members' ids lie,
    its counts once every member has finished, and where its `batch.completed` webhook goes."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    batch_id: str = Field(alias="jobId")
    status: JobStatus = JobStatus.PROCESSING  # completed once the last member has finished
    total: int = Field(alias="batchTotal", ge=1)
    # The lowest and highest member job id: members are found by a key range, not a partition scan.
    member_range: tuple[str, str] = Field(alias="batchRange")
    counts: dict[str, int] | None = Field(default=None, alias="batchCounts")
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    webhook_status: WebhookStatus | None = Field(default=None, alias="webhookStatus")
    delivery_number: int = Field(default=1, alias="deliveryNumber")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    expires_at: int | None = Field(default=None, alias="expiresAt")

    @property
    def job_id(self) -> str:
        """The record's key in the jobs table (deliveries name their subject by it)."""
        return self.batch_id

    def to_item(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


DELIVERY_PREFIX = "dlv#"


def delivery_key(subject_id: str, number: int) -> str:
    """A delivery's sort key: after its subject's id, so one query reads a job's deliveries and their attempts
    (and "dlv#" sorts outside the "job_" range that lists jobs)."""
    return f"{DELIVERY_PREFIX}{subject_id}#{number:04d}"


class DeliveryRecord(BaseModel):
    """One delivery of a finished job's (or batch's) outcome: what is sent, where, and how it stands.

    A redelivery is a new record (a new webhook-id); the one it replaces is kept, marked superseded. Each attempt
    is an item of its own under the delivery's key, so neither a job nor a delivery grows with its attempts.
    """

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    subject_id: str = Field(alias="subjectId")
    number: int = Field(ge=1)
    webhook_id: str = Field(alias="webhookId")
    url: str
    # The webhook body as JSON text: its field order is part of the contract, and a map attribute keeps none.
    payload: str
    # The body's field that carries a fresh download link, signed at each attempt (None: no image).
    link_field: str | None = Field(default=None, alias="linkField")
    image_key: str | None = Field(default=None, alias="imageKey")
    status: WebhookStatus = WebhookStatus.PENDING
    attempt_count: int = Field(default=0, alias="attemptCount")
    superseded: bool = False
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    expires_at: int | None = Field(default=None, alias="expiresAt")

    @property
    def key(self) -> str:
        return delivery_key(self.subject_id, self.number)

    def attempt_key(self, sequence: int) -> str:
        """The key of the delivery's `sequence`-th attempt (1-based), right after the delivery's own."""
        return f"{self.key}#{sequence:04d}"

    def to_item(self) -> dict[str, Any]:
        return {"jobId": self.key, **self.model_dump(mode="json", exclude_none=True)}


# A job's (or batch's) deliveries, oldest first, each with its attempts in order.
DeliveryHistory = list[tuple[DeliveryRecord, list[WebhookAttempt]]]


class TenantLimits(BaseModel):
    """What a tenant may ask of the API: a request rate (token bucket) and captures per calendar month."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True, extra="forbid")

    requests_per_second: float = Field(default=10.0, alias="requestsPerSecond", gt=0, le=10_000)
    burst: int = Field(default=20, ge=1, le=100_000)
    monthly_quota: int = Field(default=10_000, alias="monthlyQuota", ge=0)


class Tenant(BaseModel):
    """A customer account: who owns jobs, its limits, and the secret its webhooks are signed with."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    name: str
    webhook_secret: str = Field(alias="webhookSecret", repr=False)
    limits: TenantLimits = Field(default_factory=TenantLimits)
    created_at: str | None = Field(default=None, alias="createdAt")
    # The secret before the last rotation, still signing deliveries until `previous_secret_expires_at`.
    previous_webhook_secret: str | None = Field(default=None, alias="previousWebhookSecret", repr=False)
    previous_secret_expires_at: float | None = Field(default=None, alias="previousSecretExpiresAt")

    def signing_secrets(self, now: float) -> tuple[str, ...]:
        """The secrets a delivery made at `now` is signed with: the current one first."""
        if self.previous_webhook_secret and (self.previous_secret_expires_at or 0) > now:
            return (self.webhook_secret, self.previous_webhook_secret)
        return (self.webhook_secret,)


class ApiKeyRecord(BaseModel):
    """What is kept of an API key: never the key, only its hash (the item's key) and a hint to recognise it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    key_id: str = Field(alias="keyId")
    tenant_id: str = Field(alias="tenantId")
    name: str = ""
    hint: str = ""
    created_at: str = Field(alias="createdAt")
    revoked_at: str | None = Field(default=None, alias="revokedAt")


class CaptureMessage(BaseModel):
    """Body of a capture-queue message. The job itself (in DynamoDB) is the source of truth."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")


class OutcomeDetail(BaseModel):
    """Detail of the `Screenshot Completed` / `Screenshot Failed` events on the bus.

    The webhook URL is deliberately absent: it may carry a receiver's token and the bus is archived.
    """

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")
    status: JobStatus
    error: str | None = None
    error_code: ErrorCode | None = Field(default=None, alias="errorCode")
    image_key: str | None = Field(default=None, alias="imageKey")
    width: int | None = None
    height: int | None = None
    format: ImageFormat | None = None
    # Set for a batch's members: the dispatcher counts the outcome into its batch without reading the job.
    batch_id: str | None = Field(default=None, alias="batchId")


class RetryMessage(BaseModel):
    """Body of a webhook-retry message: which delivery, which attempt, and when it is due."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")
    attempt: int = Field(ge=1)  # 1: a redriven delivery starting its schedule again
    delivery: int = Field(default=1, ge=1, description="Which delivery of the job; retries of a superseded one stop.")
    due_at: float = Field(alias="dueAt", description="Unix time the attempt is due; earlier receipts hop again.")
