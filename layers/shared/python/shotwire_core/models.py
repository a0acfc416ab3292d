"""The job and its states, the API's request model, and the messages that move between functions."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator
from pydantic_core import PydanticCustomError

from shotwire_core.config import StackConfig

MAX_VIEWPORT = StackConfig().max_viewport
MAX_URL_LENGTH = 2048

ImageFormat = Literal["png", "jpeg"]
CONTENT_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg"}
FILE_EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg"}


class JobStatus(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class WebhookStatus(StrEnum):
    PENDING = "pending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


def _http_url(value: object, field: str) -> str:
    """Shared rule for page and webhook URLs: a string, http or https, with a host."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", f"{field} must be a string")
    text = value.strip()
    if not text:
        raise PydanticCustomError("missing", f"{field} must not be empty")
    if len(text) > MAX_URL_LENGTH:
        raise PydanticCustomError("url_too_long", f"{field} must be at most {MAX_URL_LENGTH} characters")
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise PydanticCustomError("url_scheme", f"{field} must be an absolute http:// or https:// URL")
    if not rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        raise PydanticCustomError("url_host", f"{field} must include a host")
    return text


class CaptureOptions(BaseModel):
    """What to capture: the validated, normalised request, stored on the job and echoed back."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    url: str
    width: int
    height: int
    format: ImageFormat = "png"
    full_page: bool = Field(default=False, alias="fullPage")


Dimension = Annotated[StrictInt, Field(ge=1, le=MAX_VIEWPORT)]


class ScreenshotRequest(BaseModel):
    """Body of `POST /v1/screenshots`. Unknown fields are rejected so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    url: str = Field(description="The page to capture (http or https).")
    width: Dimension = Field(default=1280, description=f"Viewport width in CSS pixels, 1-{MAX_VIEWPORT}.")
    height: Dimension = Field(default=800, description=f"Viewport height in CSS pixels, 1-{MAX_VIEWPORT}.")
    format: ImageFormat = Field(default="png", description="Image format: png or jpeg.")
    full_page: StrictBool = Field(default=False, alias="fullPage", description="Capture the whole scrollable page.")
    webhook_url: str | None = Field(
        default=None, alias="webhookUrl", description="Where to POST the signed result (optional)."
    )

    @field_validator("url", mode="before")
    @classmethod
    def _page_url(cls, value: object) -> str:
        return _http_url(value, "url")

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> str | None:
        return None if value is None else _http_url(value, "webhookUrl")

    def capture_options(self) -> CaptureOptions:
        return CaptureOptions(
            url=self.url, width=self.width, height=self.height, format=self.format, full_page=self.full_page
        )


class WebhookAttempt(BaseModel):
    """One try at delivering a webhook, as recorded on the job."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    attempt: int
    at: str
    status_code: int | None = Field(default=None, alias="statusCode")
    error: str | None = None
    duration_ms: int = Field(alias="durationMs")


class Job(BaseModel):
    """A screenshot job as stored in the jobs table (camelCase attributes)."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")
    status: JobStatus
    options: CaptureOptions
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    created_at: str = Field(alias="createdAt")
    updated_at: str = Field(alias="updatedAt")
    started_at: str | None = Field(default=None, alias="startedAt")
    completed_at: str | None = Field(default=None, alias="completedAt")
    error: str | None = None
    image_key: str | None = Field(default=None, alias="imageKey")
    image_width: int | None = Field(default=None, alias="imageWidth")
    image_height: int | None = Field(default=None, alias="imageHeight")
    image_bytes: int | None = Field(default=None, alias="imageBytes")
    final_url: str | None = Field(default=None, alias="finalUrl")
    http_status: int | None = Field(default=None, alias="httpStatus")
    webhook_status: WebhookStatus | None = Field(default=None, alias="webhookStatus")
    webhook_attempts: list[WebhookAttempt] = Field(default_factory=list, alias="webhookAttempts")
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


class Tenant(BaseModel):
    """A customer account: who owns jobs, and the secret its webhooks are signed with."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    name: str
    webhook_secret: str = Field(alias="webhookSecret", repr=False)


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
    image_key: str | None = Field(default=None, alias="imageKey")
    width: int | None = None
    height: int | None = None
    format: ImageFormat | None = None


class RetryMessage(BaseModel):
    """Body of a webhook-retry message: which delivery, which attempt, and when it is due."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    tenant_id: str = Field(alias="tenantId")
    job_id: str = Field(alias="jobId")
    attempt: int = Field(ge=2)
    due_at: float = Field(alias="dueAt", description="Unix time the attempt is due; earlier receipts hop again.")
