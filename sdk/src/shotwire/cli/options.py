"""Capture options shared by `capture`, `submit` and `batch`, and the decorator that adds them to a command.

Each option maps to one field of `POST /v1/screenshots` (snake_case, as the SDK takes them). Options left
unset are not sent, so the service's defaults apply (and a batch row's own values win over them).
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

# The contract's own choices (typer offers a Literal's values); enums.py imports no pydantic, so --help stays quick.
from shotwire_contract.enums import ImageFormat, WaitUntil

__all__ = [
    "API_FIELDS",
    "ImageFormat",
    "WaitUntil",
    "capture_options",
    "coerce_option",
    "normalise_key",
]

PANEL = "Capture options"

# Every request field of POST /v1/screenshots, snake_case (README "API", docs/capture.md).
API_FIELDS: dict[str, str] = {
    "width": "int",
    "height": "int",
    "device": "str",
    "device_scale_factor": "float",
    "format": "str",
    "quality": "int",
    "omit_background": "bool",
    "full_page": "bool",
    "max_height": "int",
    "selector": "str",
    "clip": "json",
    "wait_until": "str",
    "wait_for_selector": "str",
    "delay_ms": "int",
    "timeout_ms": "int",
    "dark_mode": "bool",
    "reduced_motion": "bool",
    "hide_selectors": "list",
    "css": "str",
    "javascript": "str",
    "freeze_animations": "bool",
    "user_agent": "str",
    "headers": "json",
    "cookies": "json",
    "block_resources": "list",
    "block_ads": "bool",
    "block_cookie_banners": "bool",
    "fail_on_http_error": "bool",
    "webhook_url": "str",
    "metadata": "json",
    "external_id": "str",
}
ALIASES = {"fullpage": "full_page", "scale": "device_scale_factor", "dark": "dark_mode", "webhook": "webhook_url"}


def normalise_key(key: str) -> str:
    """`fullPage`, `full-page`, `Full Page` and `full_page` all name the field `full_page`."""
    key = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key.strip())
    key = re.sub(r"[\s\-]+", "_", key).lower()
    return ALIASES.get(key, key)


_TRUE = {"1", "true", "yes", "y", "on", "t"}
_FALSE = {"0", "false", "no", "n", "off", "f"}


def coerce_option(key: str, value: Any) -> Any:
    """Turn a text value (a CSV cell, a `--option` value) into the field's type; JSON values pass through.

    Raises ValueError naming the field when the text does not fit.
    """
    kind = API_FIELDS.get(key)
    if not isinstance(value, str) or kind is None or kind == "str":
        return value
    text = value.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError(f"expected true or false, got {text!r}")
        if kind == "list":
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{key}: not valid JSON ({error.msg})") from None
    except ValueError as error:
        raise ValueError(f"{key}: {error}") from None


def _parse_pairs(pairs: list[str] | None, what: str, separator: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for pair in pairs or []:
        name, found, value = pair.partition(separator)
        if not found or not name.strip():
            raise typer.BadParameter(f"{pair!r}: expected NAME{separator}VALUE", param_hint=what)
        result[name.strip()] = value.strip()
    return result


def _json_object(text: str | None, what: str) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"not valid JSON: {error.msg}", param_hint=what) from None
    if not isinstance(value, dict):
        raise typer.BadParameter("must be a JSON object", param_hint=what)
    return value


def _opt(*declarations: str, help: str) -> Any:
    return typer.Option(*declarations, help=help, rich_help_panel=PANEL)


_OPTION_PARAMS: list[tuple[str, Any]] = [
    ("width", Annotated[int | None, _opt("--width", "-W", help="Viewport width, CSS px (default 1280).")]),
    ("height", Annotated[int | None, _opt("--height", "-H", help="Viewport height, CSS px (default 800).")]),
    ("full_page", Annotated[bool, _opt("--full-page", help="Capture the whole scrollable page.")]),
    (
        "image_format",
        Annotated[
            ImageFormat | None,
            _opt("--format", "-f", help="png (default), jpeg, webp or pdf; guessed from -o's extension."),
        ],
    ),
    ("quality", Annotated[int | None, _opt("--quality", help="1-100, for jpeg and webp.")]),
    ("device", Annotated[str | None, _opt("--device", help="Preset, e.g. iphone-15, pixel-7, ipad.")]),
    ("scale", Annotated[float | None, _opt("--scale", help="Device scale factor, 1-3 (2 for retina).")]),
    ("dark_mode", Annotated[bool, _opt("--dark-mode", help="Prefer a dark colour scheme.")]),
    ("selector", Annotated[str | None, _opt("--selector", help="Capture only this element.")]),
    (
        "wait_until",
        Annotated[WaitUntil | None, _opt("--wait-until", help="Page event to wait for (default load).")],
    ),
    ("wait_for_selector", Annotated[str | None, _opt("--wait-for", help="Wait for this selector.")]),
    ("delay_ms", Annotated[int | None, _opt("--delay-ms", help="Extra wait before the shot, 0-10000 ms.")]),
    ("timeout_ms", Annotated[int | None, _opt("--timeout-ms", help="The capture's own budget, ms.")]),
    ("hide", Annotated[list[str] | None, _opt("--hide", help="CSS selector to hide (repeatable).")]),
    ("block_ads", Annotated[bool, _opt("--block-ads", help="Block ads and trackers.")]),
    (
        "block_cookie_banners",
        Annotated[bool, _opt("--block-cookie-banners", help="Hide cookie consent banners.")],
    ),
    ("header", Annotated[list[str] | None, _opt("--header", help="'Name: value' sent by the page (repeatable).")]),
    ("user_agent", Annotated[str | None, _opt("--user-agent", help="User-Agent of the page's requests.")]),
    ("webhook_url", Annotated[str | None, _opt("--webhook-url", help="Also POST the signed result here.")]),
    ("metadata", Annotated[str | None, _opt("--metadata", help="Your own JSON object, echoed back.")]),
    ("external_id", Annotated[str | None, _opt("--external-id", help="Your own id, echoed back.")]),
    (
        "extra",
        Annotated[
            list[str] | None,
            _opt("--option", "-O", help="Any other API field, KEY=VALUE (e.g. -O failOnHttpError=true)."),
        ],
    ),
]


def _collect(values: dict[str, Any]) -> dict[str, Any]:
    """The API fields (snake_case) the user set, from the parsed option values."""
    options: dict[str, Any] = {}
    simple = {
        "width": "width",
        "height": "height",
        "quality": "quality",
        "device": "device",
        "scale": "device_scale_factor",
        "selector": "selector",
        "wait_for_selector": "wait_for_selector",
        "delay_ms": "delay_ms",
        "timeout_ms": "timeout_ms",
        "user_agent": "user_agent",
        "webhook_url": "webhook_url",
        "external_id": "external_id",
    }
    for name, field in simple.items():
        if values[name] is not None:
            options[field] = values[name]
    for flag in ("full_page", "dark_mode", "block_ads", "block_cookie_banners"):
        if values[flag]:
            options[flag] = True
    if values["image_format"] is not None:
        options["format"] = values["image_format"]
    if values["wait_until"] is not None:
        options["wait_until"] = values["wait_until"]
    if values["hide"]:
        options["hide_selectors"] = list(values["hide"])
    if values["header"]:
        options["headers"] = _parse_pairs(values["header"], "--header", ":")
    metadata = _json_object(values["metadata"], "--metadata")
    if metadata is not None:
        options["metadata"] = metadata
    for key, text in _parse_pairs(values["extra"], "--option", "=").items():
        field = normalise_key(key)
        if field not in API_FIELDS:
            raise typer.BadParameter(f"unknown field {key!r}", param_hint="--option")
        try:
            options[field] = coerce_option(field, text)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--option") from None
    return options


F = TypeVar("F", bound=Callable[..., Any])


def capture_options(func: F) -> F:
    """Add the capture options to a typer command; the command receives them as `options: dict`."""
    signature = inspect.signature(func, eval_str=True)
    kept = [param for param in signature.parameters.values() if param.name != "options"]
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
        for name, annotation in _OPTION_PARAMS
    ]
    for param in added:
        if param.annotation.__origin__ is bool:
            added[added.index(param)] = param.replace(default=False)
    names = [name for name, _ in _OPTION_PARAMS]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in names}
        return func(*args, options=_collect(values), **kwargs)

    _set_signature(wrapper, signature, kept + added)
    return wrapper  # type: ignore[return-value]


def _set_signature(wrapper: Any, signature: inspect.Signature, params: list[inspect.Parameter]) -> None:
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    keyword = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params if p not in positional]
    wrapper.__signature__ = signature.replace(parameters=positional + keyword)
    wrapper.__annotations__ = {p.name: p.annotation for p in params}
    if signature.return_annotation is not inspect.Signature.empty:
        wrapper.__annotations__["return"] = signature.return_annotation
    del wrapper.__wrapped__  # typer must read __signature__, not the original function's
