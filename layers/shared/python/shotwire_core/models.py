"""The job and its states, the API's request model, and the messages that move between functions."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shotwire_core.config import CAPTURE_JOB_TIMEOUT_MAX_SECONDS
from shotwire_core.devices import DEVICES

# A limit of the API contract (the SDK states the same), not a setting: the pixel budget below bounds what a
# viewport may cost.
MAX_VIEWPORT = 10_000
MAX_URL_LENGTH = 2048
# Chromium cannot paint a single capture taller than this (its largest texture); deeper pages are cut.
MAX_CAPTURE_HEIGHT = 16384
# The most device pixels (width x height x deviceScaleFactor², in device px) an image may have. The capture
# opens every image with Pillow (its size, and the png → webp conversion), and Pillow's Image.open raises
# DecompressionBombError above 2 x PIL.Image.MAX_IMAGE_PIXELS (default 89,478,485), so a larger capture
# always fails, after three renders, as internal_error. At a pixel ratio of 1 no capture reaches it
# (10000 x 16384 at most); a larger ratio can.
MAX_IMAGE_PIXELS = 2 * 89_478_485
DEFAULT_WIDTH, DEFAULT_HEIGHT = 1280, 800
DEFAULT_QUALITY = 80
MAX_SCRIPT_CHARS = 50_000
MAX_METADATA_BYTES = 2048
# DynamoDB refuses documents nested deeper than 32 levels; leave room for the job around it.
MAX_METADATA_DEPTH = 16
MAX_EXTERNAL_ID_CHARS = 128

ImageFormat = Literal["png", "jpeg", "webp", "pdf"]
WaitUntil = Literal["load", "domcontentloaded", "networkidle", "commit"]
BlockableResource = Literal["images", "fonts", "media", "stylesheets", "scripts"]
CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pdf": "application/pdf",
}
FILE_EXTENSIONS: dict[str, str] = {"png": "png", "jpeg": "jpg", "webp": "webp", "pdf": "pdf"}
# Headers the browser owns: setting them would break requests or smuggle a different target.
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
# Both matched whole (fullmatch): a `$` would also match before a final newline, which Chromium refuses.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
# HTTP field values (RFC 9110 5.5) allow TAB and visible characters: any other C0 control, or DEL, is refused.
# Chromium itself refuses only NUL, CR and LF in a header or the user agent and sends the other controls,
# which servers answer with a 400; non-ASCII text it sends as UTF-8, so that stays allowed.
_HTTP_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Chromium refuses a cookie whose name or value holds any control (TAB included), a ';', or (in the name)
# an '=' or a space; other characters, non-ASCII ones too, it keeps and sends.
_COOKIE_VALUE_REFUSED = re.compile(r"[\x00-\x1f\x7f;]")
_COOKIE_NAME_REFUSED = re.compile(r"[\x00-\x20\x7f;=]")
# Chromium escapes controls in a path rather than refusing them, but a path with one is no path a server uses.
_COOKIE_PATH_REFUSED = _COOKIE_VALUE_REFUSED
# Chromium's limit on a cookie's name and value together, in bytes: a larger cookie is refused.
MAX_COOKIE_BYTES = 4096
_HOST_LABEL = re.compile(r"(?!-)[\w-]{1,63}(?<!-)")
# Cookie name prefixes (RFC 6265bis, matched without regard to case): Chromium refuses such a cookie unless
# it is Secure, and a __Host- one unless it is also host-only with the path "/".
_SECURE_PREFIXES = ("__secure-", "__host-")
_HOST_PREFIX = "__host-"


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    """Where `pattern` first matches `text`, as a reader can find it; the text itself is not repeated (header
    and cookie values are secrets)."""
    found = pattern.search(text)
    return None if found is None else f"U+{ord(found.group()):04X} at position {found.start()}"


def _plausible_host(domain: str) -> bool:
    """A host name (IDN letters allowed) or IP address, with the leading '.' cookies may carry; no scheme,
    port, path or whitespace, which Chromium would otherwise mangle into a cookie for some other host."""
    host = domain.removeprefix(".")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return all(_HOST_LABEL.fullmatch(label) for label in host.split("."))


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


# The document says a URL field holds a URI; the rules past that (http or https, a host, no credentials) are
# checked by _http_url and answered as 422s that name them.
URI: dict[str, Any] = {"format": "uri"}


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


class _Camel(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True, extra="forbid")


class Clip(_Camel):
    """A rectangle of the page, in CSS pixels from its top-left corner."""

    x: Annotated[StrictInt, Field(ge=0, le=100_000)]
    y: Annotated[StrictInt, Field(ge=0, le=100_000)]
    width: Annotated[StrictInt, Field(ge=1, le=MAX_VIEWPORT)]
    height: Annotated[StrictInt, Field(ge=1, le=MAX_CAPTURE_HEIGHT)]


SameSite = Literal["Strict", "Lax", "None"]


class StoredCookie(_Camel):
    """A cookie as a job keeps it: the shape only. A job written before a rule was added to `Cookie` must stay
    readable (by GET, by the capture function), so the rules live on `Cookie`, which requests use."""

    name: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(max_length=4096)]
    domain: Annotated[str, Field(max_length=253)] | None = None
    path: Annotated[str, Field(max_length=1024)] = "/"
    secure: StrictBool = False
    http_only: StrictBool = Field(default=False, alias="httpOnly")
    same_site: SameSite = Field(default="Lax", alias="sameSite")


class Cookie(StoredCookie):
    """A cookie a request sets: refused at submission if Chromium would refuse it (or silently drop it).

    Validators read the fields before them (`info.data`), so the order of the fields matters.
    """

    # Validated even when left out: a __Secure- or __Host- cookie needs it set.
    secure: StrictBool = Field(default=False, validate_default=True)

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
        if not value.startswith("/") or _first(_COOKIE_PATH_REFUSED, value):
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


def _has_prefix(info: ValidationInfo, prefixes: tuple[str, ...]) -> bool:
    return str(info.data.get("name", "")).lower().startswith(prefixes)


class CaptureOptions(_Camel):
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


Dimension = Annotated[StrictInt, Field(ge=1, le=MAX_VIEWPORT)]
SelectorText = Annotated[str, Field(min_length=1, max_length=1000)]
ScriptText = Annotated[str, Field(min_length=1, max_length=MAX_SCRIPT_CHARS)]


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 0


class ScreenshotRequest(BaseModel):
    """Body of `POST /v1/screenshots`. Unknown fields are rejected so typos do not pass silently.

    Field order matters: validators of later fields read earlier ones (e.g. `quality` checks `format`).
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    url: str = Field(description="The page to capture (http or https).", json_schema_extra=URI)
    device: Literal[tuple(DEVICES)] | None = Field(  # type: ignore[valid-type]
        default=None, description="A device preset: viewport, pixel ratio, mobile, touch and user agent."
    )
    width: Dimension | None = Field(default=None, description=f"Viewport width in CSS px, 1-{MAX_VIEWPORT}.")
    height: Dimension | None = Field(default=None, description=f"Viewport height in CSS px, 1-{MAX_VIEWPORT}.")
    # Strict like every number and flag here: "2" or true is refused, not read as 2 or 1 (an int is a number).
    device_scale_factor: Annotated[StrictFloat, Field(ge=1, le=3)] | None = Field(
        default=None, alias="deviceScaleFactor", description="Pixel ratio, 1-3 (2 for retina)."
    )
    format: ImageFormat = Field(default="png", description="png, jpeg, webp or pdf.")
    quality: Annotated[StrictInt, Field(ge=1, le=100)] | None = Field(
        default=None, description=f"jpeg/webp quality 1-100 (default {DEFAULT_QUALITY})."
    )
    omit_background: StrictBool = Field(default=False, alias="omitBackground", description="Transparent png/webp.")
    full_page: StrictBool = Field(default=False, alias="fullPage", description="Capture the whole scrollable page.")
    max_height: Annotated[StrictInt, Field(ge=1, le=MAX_CAPTURE_HEIGHT)] = Field(
        default=MAX_CAPTURE_HEIGHT, alias="maxHeight", description="Full-page captures are cut at this height."
    )
    selector: SelectorText | None = Field(default=None, description="Capture only the first matching element.")
    clip: Clip | None = Field(default=None, description="Capture a rectangle {x, y, width, height} in CSS px.")
    wait_until: WaitUntil = Field(default="load", alias="waitUntil")
    wait_for_selector: SelectorText | None = Field(default=None, alias="waitForSelector")
    delay_ms: Annotated[StrictInt, Field(ge=0, le=10_000)] = Field(default=0, alias="delayMs")
    timeout_ms: Annotated[StrictInt, Field(ge=1000, le=CAPTURE_JOB_TIMEOUT_MAX_SECONDS * 1000)] | None = Field(
        default=None, alias="timeoutMs", description="The capture's budget in ms (default: the service's, 30000)."
    )
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
    webhook_url: str | None = Field(
        default=None,
        alias="webhookUrl",
        description="Where to POST the signed result (optional).",
        json_schema_extra=URI,
    )
    metadata: dict[str, Any] | None = Field(
        default=None,
        description=f"Your own JSON object (at most {MAX_METADATA_BYTES} bytes), echoed on the job and its webhook.",
    )
    external_id: Annotated[str, Field(min_length=1, max_length=MAX_EXTERNAL_ID_CHARS)] | None = Field(
        default=None, alias="externalId", description="Your own id for this capture, echoed on the job and webhook."
    )

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
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
            if not _HEADER_NAME.fullmatch(name):
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

    @model_validator(mode="after")
    def _pixel_budget(self) -> ScreenshotRequest:
        """Refuse an image the capture could never open (MAX_IMAGE_PIXELS), judged on the effective values
        (a device preset's viewport and pixel ratio included): a viewport capture at its size, a clip at its
        own, a full page at the height it is cut at (maxHeight, at most 16384 device px), since any page may
        be that tall. A PDF is no image, and an element's size is not known before the capture.

        Named on deviceScaleFactor: at a ratio of 1 nothing the other fields allow reaches the budget."""
        if self.format == "pdf" or self.selector is not None:
            return self
        options = self.capture_options()
        scale = options.device_scale_factor
        width, height, shape = options.width, options.height, "an"
        if options.full_page:  # the cut the browser makes (adapters/browser.py `_render`)
            height, shape = min(options.max_height, int(MAX_CAPTURE_HEIGHT / scale)), "a full-page"
        elif options.clip is not None:
            width, height, shape = options.clip.width, options.clip.height, "a clipped"
        device_width, device_height = math.ceil(width * scale), math.ceil(height * scale)
        pixels = device_width * device_height
        if pixels <= MAX_IMAGE_PIXELS:
            return self
        source = f" (from device {self.device})" if self.device_scale_factor is None and self.device else ""
        lower = "width, maxHeight" if options.full_page else "the clip" if shape == "a clipped" else "width, height"
        message = (
            f"deviceScaleFactor {scale:g}{source} makes {shape} image of {device_width} x {device_height} px "
            f"({pixels:,} pixels), over the {MAX_IMAGE_PIXELS:,} the capture can open: "
            f"lower {lower} or deviceScaleFactor"
        )
        problem = InitErrorDetails(
            type=PydanticCustomError("pixel_budget", message),
            loc=("deviceScaleFactor",),
            input=self.device_scale_factor if self.device_scale_factor is not None else scale,
        )
        raise ValidationError.from_exception_data(type(self).__name__, [problem])

    def capture_options(self, default_timeout_ms: int = 30_000) -> CaptureOptions:
        """Resolve defaults: a device preset fills in what the request did not say."""
        preset = DEVICES[self.device] if self.device else None
        default_width = preset.width if preset else DEFAULT_WIDTH
        default_height = preset.height if preset else DEFAULT_HEIGHT
        default_scale = preset.device_scale_factor if preset else 1.0
        return CaptureOptions(
            url=self.url,
            width=self.width or default_width,
            height=self.height or default_height,
            device=self.device,
            device_scale_factor=self.device_scale_factor or default_scale,
            is_mobile=preset.is_mobile if preset else False,
            has_touch=preset.has_touch if preset else False,
            format=self.format,
            quality=self.quality,
            omit_background=self.omit_background,
            full_page=self.full_page,
            max_height=self.max_height,
            selector=self.selector,
            clip=self.clip,
            wait_until=self.wait_until,
            wait_for_selector=self.wait_for_selector,
            delay_ms=self.delay_ms,
            timeout_ms=self.timeout_ms or default_timeout_ms,
            dark_mode=self.dark_mode,
            reduced_motion=self.reduced_motion,
            hide_selectors=tuple(self.hide_selectors),
            css=self.css,
            javascript=self.javascript,
            freeze_animations=self.freeze_animations,
            user_agent=self.user_agent or (preset.user_agent if preset else None),
            headers=dict(self.headers),
            cookies=tuple(self.cookies),
            block_resources=tuple(dict.fromkeys(self.block_resources)),
            block_ads=self.block_ads,
            block_cookie_banners=self.block_cookie_banners,
            fail_on_http_error=self.fail_on_http_error,
        )


class WebhookAttempt(BaseModel):
    """One try at delivering a webhook, as recorded on the job."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    attempt: int
    at: str
    status_code: int | None = Field(default=None, alias="statusCode")
    # dns, connect, tls, timeout, ssrf_blocked or http_status; None when delivered.
    error_class: str | None = Field(default=None, alias="errorClass")
    error: str | None = None
    duration_ms: int = Field(alias="durationMs")
    response_body: str | None = Field(default=None, alias="responseBody")  # the first 2 KB
    next_attempt_at: str | None = Field(default=None, alias="nextAttemptAt")


class CaptureRequest(BaseModel):
    """Body of `POST /v1/capture`: the capture-style face (snake_case, as clients of such services send it).

    It is converted to a ScreenshotRequest: the same job, queue and capture function as every other job.
    """

    model_config = ConfigDict(extra="forbid")

    url: str = Field(description="The page to capture (http or https).", json_schema_extra=URI)
    width: Dimension | None = Field(default=None, description=f"Viewport width in CSS px, 1-{MAX_VIEWPORT}.")
    height: Dimension | None = Field(default=None, description=f"Viewport height in CSS px, 1-{MAX_VIEWPORT}.")
    fullpage: StrictBool = Field(default=False, description="Capture the whole scrollable page.")
    format: Literal["png", "jpeg", "jpg", "webp", "pdf"] = Field(default="png", description="jpg means jpeg.")
    callback_url: str | None = Field(
        default=None, description="Where to POST the signed result (optional).", json_schema_extra=URI
    )

    @field_validator("url", mode="before")
    @classmethod
    def _page_url(cls, value: object) -> str:
        return _http_url(value, "url")

    @field_validator("callback_url", mode="before")
    @classmethod
    def _callback_url(cls, value: object) -> str | None:
        return None if value is None else _http_url(value, "callback_url")

    def as_screenshot_request(self) -> ScreenshotRequest:
        return ScreenshotRequest.model_validate(
            {
                "url": self.url,
                "width": self.width,
                "height": self.height,
                "fullPage": self.fullpage,
                "format": "jpeg" if self.format == "jpg" else self.format,
                "webhookUrl": self.callback_url,
            }
        )


# "batch": the record of a batch (see shotwire_core.batches), which ends with the batch.completed webhook.
JobFace = Literal["screenshots", "capture", "batch"]

MAX_BATCH_ITEMS = 1000


def _batch_item(value: object, handler: ValidatorFunctionWrapHandler) -> str | dict[str, Any]:
    """One problem per item that is neither a URL nor an object, rather than one per member of the union."""
    if not isinstance(value, str | dict):
        raise PydanticCustomError("batch_item", "a URL string or a screenshot request object")
    result: str | dict[str, Any] = handler(value)
    return result


BatchItem = Annotated[Annotated[str, Field(json_schema_extra=URI)] | dict[str, Any], WrapValidator(_batch_item)]


class BatchRequest(BaseModel):
    """Body of `POST /v1/batches`: up to 1,000 captures sharing defaults (one webhookUrl included)."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchItem] = Field(
        min_length=1,
        max_length=MAX_BATCH_ITEMS,
        description="Each a URL, or a full screenshot request (its fields override the defaults).",
    )
    defaults: dict[str, Any] = Field(
        default_factory=dict,
        description="Screenshot request fields every item starts from; its webhookUrl also gets batch.completed.",
    )


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
    # Members carry their batch's id; the batch record carries its size and, once done, its counts.
    batch_id: str | None = Field(default=None, alias="batchId")
    batch_total: int | None = Field(default=None, alias="batchTotal")
    batch_counts: dict[str, int] | None = Field(default=None, alias="batchCounts")
    # The lowest and highest member job id: members are found by a key range, not a partition scan.
    batch_range: list[str] | None = Field(default=None, alias="batchRange")
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
    webhook_status: WebhookStatus | None = Field(default=None, alias="webhookStatus")
    webhook_attempts: list[WebhookAttempt] = Field(default_factory=list, alias="webhookAttempts")
    # Which delivery of this job's outcome is current: 1, then one more per `redeliver`.
    delivery_number: int = Field(default=1, alias="deliveryNumber")
    # Earlier deliveries, superseded by a redelivery: {webhookId, status, attempts}.
    past_deliveries: list[dict[str, Any]] = Field(default_factory=list, alias="pastDeliveries")
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


class WebhookTestRequest(BaseModel):
    """Body of `POST /v1/webhooks/test`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    url: str = Field(description="The receiver to send a signed `webhook.test` event to.", json_schema_extra=URI)

    @field_validator("url", mode="before")
    @classmethod
    def _receiver_url(cls, value: object) -> str:
        return _http_url(value, "url")


class SecretRotationRequest(BaseModel):
    """Body of `POST /v1/webhooks/secret/rotate` (optional)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    overlap_seconds: Annotated[StrictInt, Field(ge=0, le=7 * 24 * 3600)] | None = Field(
        default=None,
        alias="overlapSeconds",
        description="How long the old secret keeps signing beside the new one (default 86400, 0 = not at all).",
    )


# --- answers, as the OpenAPI document describes them ------------------------------------------------


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class AcceptedJob(Answer):
    jobId: str
    status: str
    createdAt: str


class AcceptedCapture(Answer):
    status: Literal["accepted"]
    capture_id: str


class AcceptedBatch(Answer):
    batchId: str
    status: str
    jobIds: list[str]


class JobAnswer(Answer):
    """A job as GET /v1/screenshots/{id} shows it (fields beyond these are described in the README)."""

    jobId: str
    status: JobStatus
    url: str


class JobPage(Answer):
    data: list[JobAnswer]
    nextCursor: str | None


class CaptureAnswer(Answer):
    capture_id: str
    status: Literal["accepted", "processing", "success", "failed"]
    width: int
    height: int
    format: str
    captured_at: str | None


class BatchAnswer(Answer):
    batchId: str
    status: str
    total: int
    counts: dict[str, int]
    jobs: list[dict[str, Any]]


class DeliveriesAnswer(Answer):
    jobId: str
    deliveries: list[dict[str, Any]]


class Health(Answer):
    status: str


class EgressIps(Answer):
    """The addresses webhooks (and, if so deployed, page loads) come from; `static` false: no fixed ones."""

    egressIps: list[str]
    static: bool
