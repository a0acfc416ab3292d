"""The API's request bodies, with every rule a request is checked against (the server's 422s and the SDK's
checks before sending are the same code). Pydantic only: no AWS, no HTTP."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import Annotated, Any, Literal, NamedTuple

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

from shotwire_contract.devices import DEVICES, DeviceName
from shotwire_contract.enums import BlockableResource, ImageFormat, SameSite, WaitUntil
from shotwire_contract.limits import (
    DEFAULT_HEIGHT,
    DEFAULT_QUALITY,
    DEFAULT_WIDTH,
    FORBIDDEN_HEADERS,
    MAX_BATCH_ITEMS,
    MAX_CAPTURE_HEIGHT,
    MAX_COOKIE_BYTES,
    MAX_EXTERNAL_ID_CHARS,
    MAX_IMAGE_PIXELS,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_SCRIPT_CHARS,
    MAX_SECRET_OVERLAP_SECONDS,
    MAX_TIMEOUT_MS,
    MAX_URL_LENGTH,
    MAX_VIEWPORT,
)


class Viewport(NamedTuple):
    """A request's viewport with its device preset applied."""

    width: int
    height: int
    device_scale_factor: float
    is_mobile: bool
    has_touch: bool
    user_agent: str | None


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


# The document says a URL field holds a URI; the rules past that (http or https, a host, no credentials) are
# checked by _http_url and answered as 422s that name them.
URI: dict[str, Any] = {"format": "uri"}


def http_url(value: object, field: str) -> str:
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


class CamelModel(BaseModel):
    """A frozen model spelled in camelCase on the wire and snake_case in Python."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True, extra="forbid")


class Clip(CamelModel):
    """A rectangle of the page, in CSS pixels from its top-left corner."""

    x: Annotated[StrictInt, Field(ge=0, le=100_000)]
    y: Annotated[StrictInt, Field(ge=0, le=100_000)]
    width: Annotated[StrictInt, Field(ge=1, le=MAX_VIEWPORT)]
    height: Annotated[StrictInt, Field(ge=1, le=MAX_CAPTURE_HEIGHT)]


class StoredCookie(CamelModel):
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
    device: DeviceName | None = Field(
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
    timeout_ms: Annotated[StrictInt, Field(ge=1000, le=MAX_TIMEOUT_MS)] | None = Field(
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
        return http_url(value, "url")

    @field_validator("webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> str | None:
        return None if value is None else http_url(value, "webhookUrl")

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
        viewport = self.viewport()
        scale = viewport.device_scale_factor
        width, height, shape = viewport.width, viewport.height, "an"
        if self.full_page:  # the cut the browser makes (adapters/browser.py `_render`)
            height, shape = min(self.max_height, int(MAX_CAPTURE_HEIGHT / scale)), "a full-page"
        elif self.clip is not None:
            width, height, shape = self.clip.width, self.clip.height, "a clipped"
        device_width, device_height = math.ceil(width * scale), math.ceil(height * scale)
        pixels = device_width * device_height
        if pixels <= MAX_IMAGE_PIXELS:
            return self
        source = f" (from device {self.device})" if self.device_scale_factor is None and self.device else ""
        lower = "width, maxHeight" if self.full_page else "the clip" if shape == "a clipped" else "width, height"
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

    def viewport(self) -> Viewport:
        """The viewport the capture uses: what the request says, a device preset filling in the rest."""
        preset = DEVICES[self.device] if self.device else None
        return Viewport(
            width=self.width or (preset.width if preset else DEFAULT_WIDTH),
            height=self.height or (preset.height if preset else DEFAULT_HEIGHT),
            device_scale_factor=self.device_scale_factor or (preset.device_scale_factor if preset else 1.0),
            is_mobile=preset.is_mobile if preset else False,
            has_touch=preset.has_touch if preset else False,
            user_agent=self.user_agent or (preset.user_agent if preset else None),
        )


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
        return http_url(value, "url")

    @field_validator("callback_url", mode="before")
    @classmethod
    def _callback_url(cls, value: object) -> str | None:
        return None if value is None else http_url(value, "callback_url")

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


class WebhookTestRequest(BaseModel):
    """Body of `POST /v1/webhooks/test`."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    url: str = Field(description="The receiver to send a signed `webhook.test` event to.", json_schema_extra=URI)

    @field_validator("url", mode="before")
    @classmethod
    def _receiver_url(cls, value: object) -> str:
        return http_url(value, "url")


class SecretRotationRequest(BaseModel):
    """Body of `POST /v1/webhooks/secret/rotate` (optional)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    overlap_seconds: Annotated[StrictInt, Field(ge=0, le=MAX_SECRET_OVERLAP_SECONDS)] | None = Field(
        default=None,
        alias="overlapSeconds",
        description="How long the old secret keeps signing beside the new one (default 86400, 0 = not at all).",
    )
