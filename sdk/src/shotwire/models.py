"""Typed requests and answers of the shotwire API.

`ScreenshotOptions` mirrors the server's request model field for field, with the same limits, so a bad
option fails before any request is sent (`tests/sdk/test_limits.py` compares the two so they cannot
drift). Options are accepted in snake_case (`full_page`) or as the API spells them (`fullPage`) and are
always sent in the API's camelCase.

Answer models (`Job`, `JobPage`, `Batch`, `Deliveries`) keep fields they do not know (`extra="allow"`),
so a newer server never breaks an older SDK.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shotwire.errors import InvalidRequestError

__all__ = [
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
    "ImageFormat",
    "Job",
    "JobError",
    "JobPage",
    "JobStatus",
    "ScreenshotOptions",
    "WebhookInfo",
]

# The server's limits (shotwire_core.models and .config); tests/sdk/test_limits.py keeps them equal.
MAX_VIEWPORT = 10_000
MAX_URL_LENGTH = 2048
MAX_CAPTURE_HEIGHT = 16384
MAX_SCRIPT_CHARS = 50_000
MAX_METADATA_BYTES = 2048
MAX_METADATA_DEPTH = 16
MAX_EXTERNAL_ID_CHARS = 128
MAX_TIMEOUT_MS = 120_000
MAX_BATCH_ITEMS = 1000
MAX_WAIT_SECONDS = 25  # the longest synchronous wait `POST /v1/screenshots?wait=N` takes
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "transfer-encoding",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "cookie",
    }
)
_HEADER_NAME_CHARS = frozenset("!#$%&'*+.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")
# What Chromium refuses (or silently drops) in the user agent, headers and cookies: these mirror
# shotwire_core.models, rule names and messages included (tests/sdk/test_request_rules.py keeps them equal).
# Header values and the user agent: no C0 control but TAB, and no DEL.
_HTTP_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_COOKIE_VALUE_REFUSED = re.compile(r"[\x00-\x1f\x7f;]")  # a path too
_COOKIE_NAME_REFUSED = re.compile(r"[\x00-\x20\x7f;=]")
MAX_COOKIE_BYTES = 4096  # name and value together, in UTF-8
_HOST_LABEL = re.compile(r"(?!-)[\w-]{1,63}(?<!-)")  # matched whole (fullmatch)
_SECURE_PREFIXES = ("__secure-", "__host-")  # matched without regard to case
_HOST_PREFIX = "__host-"

ImageFormat = Literal["png", "jpeg", "webp", "pdf"]
WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]
BlockableResource = Literal["images", "fonts", "media", "stylesheets", "scripts"]
Device = Literal[
    "desktop", "desktop-hd", "macbook-retina", "iphone-15", "iphone-se", "pixel-7", "galaxy-s9", "ipad", "ipad-pro"
]
DEVICES: tuple[Device, ...] = get_args(Device)
# The job statuses this SDK knows. Answers type `status` as `JobStatus | str`: a newer server may add one,
# and an older SDK must still read its jobs (an unknown status is kept as it is, and is not terminal).
JobStatus = Literal["queued", "processing", "completed", "failed"]
JOB_STATUSES: tuple[JobStatus, ...] = get_args(JobStatus)
TERMINAL_STATUSES = frozenset({"completed", "failed"})
CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pdf": "application/pdf",
}


def _http_url(value: object, field: str) -> str:
    """The server's rule for page and webhook URLs: a string, http or https, with a host."""
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


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    """Where `pattern` first matches `text` (the text itself is not repeated: values may be secrets)."""
    found = pattern.search(text)
    return None if found is None else f"U+{ord(found.group()):04X} at position {found.start()}"


def _plausible_host(domain: str) -> bool:
    """A host name (IDN letters allowed) or IP address, with an optional leading '.'."""
    host = domain.removeprefix(".")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


def _has_prefix(info: ValidationInfo, prefixes: tuple[str, ...]) -> bool:
    return str(info.data.get("name", "")).lower().startswith(prefixes)


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Clip(_Request):
    """A rectangle of the page, in CSS pixels from its top-left corner."""

    x: Annotated[StrictInt, Field(ge=0, le=100_000)]
    y: Annotated[StrictInt, Field(ge=0, le=100_000)]
    width: Annotated[StrictInt, Field(ge=1, le=MAX_VIEWPORT)]
    height: Annotated[StrictInt, Field(ge=1, le=MAX_CAPTURE_HEIGHT)]


class Cookie(_Request):
    """A cookie set before the page loads; without `domain` it is host-only for the page's URL.

    Refused as the server refuses it (what Chromium would refuse or drop); validators read the fields
    before them, so the order of the fields matters.
    """

    name: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(max_length=4096)]
    domain: Annotated[str, Field(max_length=253)] | None = None
    path: Annotated[str, Field(max_length=1024)] = "/"
    secure: StrictBool = Field(default=False, validate_default=True)  # a __Secure-/__Host- cookie needs it
    http_only: StrictBool = Field(default=False, alias="httpOnly")
    same_site: Literal["Strict", "Lax", "None"] = Field(default="Lax", alias="sameSite")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if found := _first(_COOKIE_NAME_REFUSED, value):
            raise PydanticCustomError(
                "cookie_name", f"a cookie name without ';', '=', spaces or control characters (found {found})"
            )
        return value

    @field_validator("value")
    @classmethod
    def _value(cls, value: str, info: ValidationInfo) -> str:
        if found := _first(_COOKIE_VALUE_REFUSED, value):
            raise PydanticCustomError("cookie_value", f"free of ';' and control characters (found {found})")
        if value != value.strip(" "):
            raise PydanticCustomError("cookie_value", "free of leading and trailing spaces")
        size = len((str(info.data.get("name", "")) + value).encode("utf-8"))
        if size > MAX_COOKIE_BYTES:
            raise PydanticCustomError(
                "cookie_too_large", f"at most {MAX_COOKIE_BYTES} bytes together with the name, not {size}"
            )
        return value

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if not _plausible_host(value):
            raise PydanticCustomError(
                "cookie_domain", "a host name such as example.com or .example.com, without scheme, port or path"
            )
        if value.startswith(".") and _has_prefix(info, (_HOST_PREFIX,)):
            raise PydanticCustomError("cookie_prefix", "a single host (no leading '.') for a __Host- cookie")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str, info: ValidationInfo) -> str:
        if not value.startswith("/") or _first(_COOKIE_VALUE_REFUSED, value):
            raise PydanticCustomError("cookie_path", "a path starting with '/', without ';' or control characters")
        if value != "/" and _has_prefix(info, (_HOST_PREFIX,)):
            raise PydanticCustomError("cookie_prefix", "'/' for a __Host- cookie")
        return value

    @field_validator("secure")
    @classmethod
    def _secure(cls, value: bool, info: ValidationInfo) -> bool:
        if not value and _has_prefix(info, _SECURE_PREFIXES):
            raise PydanticCustomError("cookie_prefix", "true for a cookie named __Secure-… or __Host-…")
        return value

    @field_validator("same_site")
    @classmethod
    def _same_site(cls, value: str, info: ValidationInfo) -> str:
        if value == "None" and info.data.get("secure") is False:
            raise PydanticCustomError(
                "samesite_none_insecure",
                "Strict or Lax unless secure is true (Chromium drops a SameSite=None cookie that is not Secure)",
            )
        return value


Dimension = Annotated[StrictInt, Field(ge=1, le=MAX_VIEWPORT)]
SelectorText = Annotated[str, Field(min_length=1, max_length=1000)]
ScriptText = Annotated[str, Field(min_length=1, max_length=MAX_SCRIPT_CHARS)]


class ScreenshotOptions(_Request):
    """The body of `POST /v1/screenshots`, checked with the server's limits before it is sent.

    Field order matters as on the server: validators of later fields read earlier ones.
    Only the fields you set are sent (the server applies its own defaults).
    """

    url: str
    device: Device | None = None
    width: Dimension | None = None
    height: Dimension | None = None
    # Strict, as on the server: "2" and true are refused (an int is a float).
    device_scale_factor: Annotated[StrictFloat, Field(ge=1, le=3)] | None = Field(
        default=None, alias="deviceScaleFactor"
    )
    format: ImageFormat = "png"
    quality: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    omit_background: StrictBool = Field(default=False, alias="omitBackground")
    full_page: StrictBool = Field(default=False, alias="fullPage")
    max_height: Annotated[StrictInt, Field(ge=1, le=MAX_CAPTURE_HEIGHT)] = Field(
        default=MAX_CAPTURE_HEIGHT, alias="maxHeight"
    )
    selector: SelectorText | None = None
    clip: Clip | None = None
    wait_until: WaitUntil = Field(default="load", alias="waitUntil")
    wait_for_selector: SelectorText | None = Field(default=None, alias="waitForSelector")
    delay_ms: Annotated[StrictInt, Field(ge=0, le=10_000)] = Field(default=0, alias="delayMs")
    timeout_ms: Annotated[StrictInt, Field(ge=1000, le=MAX_TIMEOUT_MS)] | None = Field(default=None, alias="timeoutMs")
    dark_mode: StrictBool = Field(default=False, alias="darkMode")
    reduced_motion: StrictBool = Field(default=False, alias="reducedMotion")
    hide_selectors: Annotated[list[SelectorText], Field(max_length=50)] = Field(default=[], alias="hideSelectors")
    css: ScriptText | None = None
    javascript: ScriptText | None = None
    freeze_animations: StrictBool = Field(default=True, alias="freezeAnimations")
    user_agent: Annotated[str, Field(min_length=1, max_length=1000)] | None = Field(default=None, alias="userAgent")
    headers: Annotated[dict[str, Annotated[str, Field(max_length=8192)]], Field(max_length=50)] = {}
    cookies: Annotated[list[Cookie], Field(max_length=50)] = []
    block_resources: Annotated[list[BlockableResource], Field(max_length=5)] = Field(default=[], alias="blockResources")
    block_ads: StrictBool = Field(default=False, alias="blockAds")
    block_cookie_banners: StrictBool = Field(default=False, alias="blockCookieBanners")
    fail_on_http_error: StrictBool = Field(default=False, alias="failOnHttpError")
    webhook_url: str | None = Field(default=None, alias="webhookUrl")
    metadata: dict[str, Any] | None = None
    external_id: Annotated[str, Field(min_length=1, max_length=MAX_EXTERNAL_ID_CHARS)] | None = Field(
        default=None, alias="externalId"
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        try:
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as error:
            raise PydanticCustomError(
                "json_type", "metadata must hold only JSON values: {error}", {"error": str(error)}
            ) from None
        size = len(text.encode("utf-8"))
        if size > MAX_METADATA_BYTES:
            raise PydanticCustomError(
                "too_large", f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON, got {size}"
            )
        if _depth(value) > MAX_METADATA_DEPTH:
            raise PydanticCustomError("too_deep", f"metadata must nest at most {MAX_METADATA_DEPTH} levels")
        return value

    @field_validator("url", mode="before")
    @classmethod
    def _page_url(cls, value: object) -> str:
        return _http_url(value, "url")

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> str | None:
        return None if value is None else _http_url(value, "webhookUrl")

    @field_validator("quality")
    @classmethod
    def _quality_applies(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and info.data.get("format") not in ("jpeg", "webp"):
            raise PydanticCustomError("not_applicable", "quality applies only to jpeg and webp")
        return value

    @field_validator("omit_background")
    @classmethod
    def _transparency_applies(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("format") not in ("png", "webp"):
            raise PydanticCustomError("not_applicable", "omitBackground applies only to png and webp")
        return value

    @field_validator("selector")
    @classmethod
    def _selector_alone(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("full_page"):
            raise PydanticCustomError("conflict", "selector cannot be combined with fullPage")
        if value is not None and info.data.get("format") == "pdf":
            raise PydanticCustomError("not_applicable", "selector does not apply to pdf")
        return value

    @field_validator("clip")
    @classmethod
    def _clip_alone(cls, value: Clip | None, info: ValidationInfo) -> Clip | None:
        if value is not None and info.data.get("selector"):
            raise PydanticCustomError("conflict", "clip cannot be combined with selector")
        if value is not None and info.data.get("format") == "pdf":
            raise PydanticCustomError("not_applicable", "clip does not apply to pdf")
        return value

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, value: str | None) -> str | None:
        if value is not None and (found := _first(_HTTP_CONTROL, value)):
            raise PydanticCustomError("control_character", f"userAgent must not hold control characters ({found})")
        return value

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            if not 1 <= len(name) <= 100 or not set(name) <= _HEADER_NAME_CHARS:
                raise PydanticCustomError(
                    "header_name",
                    f"headers must be named by HTTP tokens of at most 100 letters, digits and !#$%&'*+-.^_`|~: "
                    f"{name!r} is not one",
                )
            if name.lower() in FORBIDDEN_HEADERS:
                hint = " (use cookies for Cookie)" if name.lower() == "cookie" else ""
                raise PydanticCustomError("header_forbidden", f"headers cannot set {name}: the browser sets it{hint}")
            if found := _first(_HTTP_CONTROL, header_value):
                raise PydanticCustomError(
                    "header_value", f"headers must not hold control characters: the value of {name} has {found}"
                )
        return value

    def to_body(self, fields: set[str] | None = None) -> dict[str, Any]:
        """The JSON body as the API spells it: only the fields that were set (or those in `fields`)."""
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True, include=fields)


_FIELD_NAMES: dict[str, str] = {}
_ALIASES: dict[str, str] = {}  # field name -> the API's spelling, which the validators' messages use
for _name, _info in ScreenshotOptions.model_fields.items():
    _FIELD_NAMES[_name] = _name
    if _info.alias:
        _FIELD_NAMES[_info.alias] = _name
        _ALIASES[_name] = _info.alias


def _names(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Options keyed by the model's field names, whichever spelling the caller used."""
    return {_FIELD_NAMES.get(key, key): value for key, value in fields.items()}


def _problem(error: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A pydantic error as the API reports one: `{field, rule, message}`, the message naming the field."""
    bare = ".".join(str(part) for part in error.get("loc", ()))
    field = f"{prefix}{bare}".rstrip(".") or "body"
    rule = str(error.get("type", "invalid"))
    message = str(error.get("msg", "is invalid"))
    if rule == "missing":
        return {"field": field, "rule": rule, "message": f"{field} is required"}
    if rule == "extra_forbidden":
        return {"field": field, "rule": rule, "message": f"{field} is not a known field"}
    for named in (bare, _ALIASES.get(bare)):  # the validators above already name the field (as the API does)
        if named and message.startswith(f"{named} "):
            return {"field": field, "rule": rule, "message": field + message[len(named) :]}
    message = message.removeprefix("Input should be ").removeprefix("Value error, ")
    return {"field": field, "rule": rule, "message": f"{field} must be {message}"}


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
        raise invalid([_problem(dict(e), prefix) for e in error.errors()]) from None
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
