"""The enumerations of the API contract: job and webhook states, failure codes, option values."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

ImageFormat = Literal["png", "jpeg", "webp", "pdf"]
WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]
BlockableResource = Literal["images", "fonts", "media", "stylesheets", "scripts"]
SameSite = Literal["Strict", "Lax", "None"]


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


class ErrorCode(StrEnum):
    """Why a capture failed; `transient` ones are retried through SQS before the job fails."""

    BLOCKED_URL = "blocked_url"
    DNS_ERROR = "dns_error"
    CONNECTION_ERROR = "connection_error"
    NAVIGATION_TIMEOUT = "navigation_timeout"
    HTTP_ERROR = "http_error"
    RENDER_ERROR = "render_error"
    BROWSER_CRASH = "browser_crash"
    INVALID_OPTIONS = "invalid_options"
    INTERNAL_ERROR = "internal_error"

    @property
    def transient(self) -> bool:
        return self in (ErrorCode.BROWSER_CRASH, ErrorCode.INTERNAL_ERROR)
