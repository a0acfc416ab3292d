"""Typed requests and answers of the shotwire API.

Requests are the server's own models: `ScreenshotOptions` is the contract's `ScreenshotRequest`
(shotwire_contract, shipped with this SDK), so a bad option fails here, before any request is sent, with the
message the server would give. Options are accepted in snake_case (`full_page`) or as the API spells them
(`fullPage`) and are always sent in the API's camelCase.

Answer models (`Job`, `JobPage`, `Batch`, `Deliveries`) are this SDK's reading of the contract's answers: one
model per resource for each answer that shows it (the 202 of a submission and the GET of a job are both a
`Job`), lenient where the contract is exact, so a newer server (a new field, a new status) never breaks an
older SDK. They keep fields they do not know (`extra="allow"`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shotwire.errors import InvalidRequestError
from shotwire_contract.devices import DEVICES as _PRESETS
from shotwire_contract.devices import DeviceName as Device
from shotwire_contract.enums import ImageFormat, JobStatus
from shotwire_contract.limits import (
    CONTENT_TYPES,
    MAX_BATCH_ITEMS,
    MAX_WAIT_SECONDS,
)
from shotwire_contract.problems import problem_from_pydantic
from shotwire_contract.requests import Clip, Cookie, ScreenshotRequest

__all__ = [
    "CONTENT_TYPES",
    "DEVICES",
    "JOB_STATUSES",
    "MAX_BATCH_ITEMS",
    "MAX_WAIT_SECONDS",
    "Batch",
    "BatchJob",
    "Clip",
    "Cookie",
    "Deliveries",
    "Delivery",
    "DeliveryAttempt",
    "Device",
    "ImageFormat",
    "Job",
    "JobError",
    "JobPage",
    "JobStatus",
    "ScreenshotOptions",
    "WebhookInfo",
]

DEVICES: tuple[Device, ...] = tuple(_PRESETS)
# The job statuses this SDK knows (a str enum: `job.status == "completed"` holds). Answers type `status` as
# `JobStatus | str`: a newer server may add one, and an older SDK must still read its jobs (an unknown status
# is kept as it is, and is not terminal).
JOB_STATUSES: tuple[str, ...] = tuple(status.value for status in JobStatus)
TERMINAL_STATUSES = frozenset(status.value for status in JobStatus if status.is_terminal)


class ScreenshotOptions(ScreenshotRequest):
    """The body of `POST /v1/screenshots`: the server's request model, which here also takes snake_case names.

    Only the fields you set are sent (the server applies its own defaults).
    """

    model_config = ConfigDict(validate_by_name=True)

    def to_body(self, fields: set[str] | None = None) -> dict[str, Any]:
        """The JSON body as the API spells it: only the fields that were set (or those in `fields`)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, include=fields)


_FIELD_NAMES: dict[str, str] = {}
for _name, _info in ScreenshotOptions.model_fields.items():
    _FIELD_NAMES[_name] = _name
    if _info.alias:
        _FIELD_NAMES[_info.alias] = _name


def _names(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Options keyed by the model's field names, whichever spelling the caller used."""
    return {_FIELD_NAMES.get(key, key): value for key, value in fields.items()}


def invalid(problems: list[dict[str, str]]) -> InvalidRequestError:
    summary = "; ".join(problem["message"] for problem in problems)
    return InvalidRequestError(
        422, "validation_error", f"invalid request (checked before sending): {summary}", problems, client_side=True
    )


def screenshot_body(
    fields: Mapping[str, Any], prefix: str = "", *, keep: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Validate screenshot options (snake_case or camelCase) and return the camelCase body to send.

    `keep`: send only these of `fields` (a batch item merged over its defaults is validated whole, but
    only the item's own fields are sent). Raises InvalidRequestError naming each bad field.
    """
    try:
        options = ScreenshotOptions.model_validate(dict(fields))
    except ValidationError as error:
        raise invalid([problem_from_pydantic(dict(e), prefix).as_dict() for e in error.errors()]) from None
    return options.to_body(set(_names(keep if keep is not None else fields)))


# --- answers ------------------------------------------------------------------------------------------


class _Answer(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class JobError(_Answer):
    """Why a job failed: `code` (`blocked_url`, `dns_error`, `navigation_timeout`, `http_error`, ...) and a
    readable `message`."""

    code: str
    message: str


class DeliveryAttempt(_Answer):
    """One try at delivering a webhook."""

    attempt: int | None = None
    at: datetime | None = None
    status_code: int | None = Field(default=None, alias="statusCode")
    error_class: str | None = Field(default=None, alias="errorClass")  # dns, connect, tls, timeout, http_status...
    error: str | None = None
    duration_ms: int | None = Field(default=None, alias="durationMs")
    response_body: str | None = Field(default=None, alias="responseBody")
    next_attempt_at: datetime | None = Field(default=None, alias="nextAttemptAt")


class WebhookInfo(_Answer):
    """A job's current webhook delivery, as `GET /v1/screenshots/{id}` shows it."""

    url: str | None = None
    status: str | None = None  # pending, retrying, delivered, failed
    attempts: list[DeliveryAttempt] = Field(default_factory=list)


class Job(_Answer):
    """A screenshot job. `download_url` (the API's `screenshotUrl`) is a presigned link, set once completed."""

    job_id: str = Field(alias="jobId")
    status: JobStatus | str  # one of JOB_STATUSES, or a status added by a newer server
    url: str | None = None
    created_at: datetime | None = Field(default=None, alias="createdAt")
    updated_at: datetime | None = Field(default=None, alias="updatedAt")
    started_at: datetime | None = Field(default=None, alias="startedAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    download_url: str | None = Field(default=None, alias="screenshotUrl")
    error: JobError | None = None
    width: int | None = None
    height: int | None = None
    format: str | None = None
    full_page: bool | None = Field(default=None, alias="fullPage")
    image_bytes: int | None = Field(default=None, alias="imageBytes")
    final_url: str | None = Field(default=None, alias="finalUrl")
    http_status: int | None = Field(default=None, alias="httpStatus")
    title: str | None = None
    truncated: bool | None = None
    warnings: list[str] = Field(default_factory=list)
    timings: dict[str, int] = Field(default_factory=dict)
    request: dict[str, Any] | None = None
    batch_id: str | None = Field(default=None, alias="batchId")
    external_id: str | None = Field(default=None, alias="externalId")
    metadata: dict[str, Any] | None = None
    webhook: WebhookInfo | None = None

    @model_validator(mode="before")
    @classmethod
    def _error_object(cls, data: Any) -> Any:
        """The API says `"error": "<reason>", "errorCode": "<code>"`; the model holds `error.code/message`."""
        if isinstance(data, Mapping) and isinstance(data.get("error"), str):
            data = dict(data)
            data["error"] = {"code": data.pop("errorCode", None) or "internal_error", "message": data["error"]}
        return data

    @property
    def is_terminal(self) -> bool:
        """Completed or failed: the job will not change any more."""
        return self.status in TERMINAL_STATUSES


class JobPage(_Answer):
    """One page of `GET /v1/screenshots`, newest first; pass `next_cursor` back as `cursor`."""

    data: list[Job]
    next_cursor: str | None = Field(default=None, alias="nextCursor")


class Delivery(_Answer):
    """One delivery of a job's outcome (a redelivery starts a new one with a new `webhook_id`)."""

    webhook_id: str | None = Field(default=None, alias="webhookId")
    url: str | None = None
    status: str | None = None  # pending, retrying, delivered, failed
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    superseded: bool = False


class Deliveries(_Answer):
    """`GET /v1/screenshots/{id}/deliveries`: superseded deliveries first, the current one last."""

    job_id: str = Field(alias="jobId")
    deliveries: list[Delivery] = Field(default_factory=list)

    @property
    def current(self) -> Delivery | None:
        """The delivery in force (None when the job has no webhookUrl)."""
        live = [delivery for delivery in self.deliveries if not delivery.superseded]
        return live[-1] if live else None


class BatchJob(_Answer):
    job_id: str = Field(alias="jobId")
    status: JobStatus | str  # as Job.status


class Batch(_Answer):
    """A batch: `POST /v1/batches` answers `batch_id`, `status` and `job_ids`; `get_batch` adds `total`,
    `counts` by status and each job's status (`jobs`)."""

    batch_id: str = Field(alias="batchId")
    status: str  # processing, completed
    job_ids: list[str] = Field(default_factory=list, alias="jobIds")
    total: int | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    jobs: list[BatchJob] = Field(default_factory=list)
    created_at: datetime | None = Field(default=None, alias="createdAt")
    completed_at: datetime | None = Field(default=None, alias="completedAt")
    webhook: WebhookInfo | None = None

    @model_validator(mode="after")
    def _ids_from_jobs(self) -> Batch:
        if not self.job_ids and self.jobs:
            self.job_ids = [job.job_id for job in self.jobs]
        if self.total is None and self.job_ids:
            self.total = len(self.job_ids)
        return self

    @property
    def is_terminal(self) -> bool:
        """Every job of the batch has finished."""
        return self.status == "completed"
