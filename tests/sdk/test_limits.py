"""The SDK checks options with the server's limits: the contract's, imported rather than restated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import shotwire
from shotwire import _core
from shotwire import models as sdk
from shotwire_contract import limits
from shotwire_contract.devices import DEVICES
from shotwire_core import batches, jobs, web
from shotwire_core.errors import problem_from_pydantic
from shotwire_core.models import MAX_BATCH_ITEMS, ScreenshotRequest

# What a JSON schema says about limits; descriptions, titles and defaults are documentation.
CONSTRAINTS = {
    "type",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "pattern",
    "required",
    "additionalProperties",
    "properties",
    "items",
    "anyOf",
    "allOf",
    "oneOf",
}


def constraints(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with references resolved and only the keys that constrain values."""
    if isinstance(schema, list):
        return [constraints(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        return constraints(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    kept: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in CONSTRAINTS:
            continue
        if key == "properties":
            kept[key] = {name: constraints(sub, defs) for name, sub in value.items()}
        elif key == "required":
            kept[key] = sorted(value)
        else:
            kept[key] = constraints(value, defs)
    return kept


def request_constraints(model: Any) -> dict[str, Any]:
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return constraints(schema, schema.get("$defs", {}))


def test_the_sdks_limits_are_the_contracts_objects_not_copies() -> None:
    """`is`, not `==`: a constant restated in the SDK would be another object."""
    assert sdk.MAX_BATCH_ITEMS is limits.MAX_BATCH_ITEMS is MAX_BATCH_ITEMS
    assert sdk.MAX_WAIT_SECONDS is limits.MAX_WAIT_SECONDS is jobs.MAX_WAIT_SECONDS
    assert sdk.CONTENT_TYPES is limits.CONTENT_TYPES
    assert tuple(DEVICES) == sdk.DEVICES
    assert _core.MAX_BODY_BYTES is limits.MAX_BODY_BYTES is web.MAX_BODY_BYTES


# Requests the two models must judge alike: accepted, or refused naming the same fields and rules.
CASES: list[dict[str, Any]] = [
    {"url": "https://example.com"},
    {"url": "https://example.com", "width": 10000, "height": 1, "device": "iphone-15", "deviceScaleFactor": 3},
    {"url": "https://example.com", "width": 10001},
    {"url": "https://example.com", "width": 0},
    {"url": "https://example.com", "width": "800"},
    {"url": "https://example.com", "width": True},
    {"url": "https://example.com", "deviceScaleFactor": 3.5},
    {"url": "https://example.com", "device": "nokia-3310"},
    {"url": "ftp://example.com"},
    {"url": "https://"},
    {"url": "https://example.com/" + "a" * 2048},
    {"url": "  "},
    {"url": 42},
    {"url": "https://example.com", "format": "gif"},
    {"url": "https://example.com", "format": "jpeg", "quality": 100},
    {"url": "https://example.com", "format": "jpeg", "quality": 101},
    {"url": "https://example.com", "quality": 50},
    {"url": "https://example.com", "format": "jpeg", "omitBackground": True},
    {"url": "https://example.com", "fullPage": True, "selector": "#main"},
    {"url": "https://example.com", "format": "pdf", "selector": "#main"},
    {"url": "https://example.com", "selector": "#a", "clip": {"x": 0, "y": 0, "width": 10, "height": 10}},
    {"url": "https://example.com", "clip": {"x": -1, "y": 0, "width": 10, "height": 16385}},
    {"url": "https://example.com", "format": "pdf", "clip": {"x": 0, "y": 0, "width": 10, "height": 10}},
    {"url": "https://example.com", "maxHeight": 16385},
    {"url": "https://example.com", "timeoutMs": 999},
    {"url": "https://example.com", "timeoutMs": 120000, "delayMs": 10000},
    {"url": "https://example.com", "timeoutMs": 120001, "delayMs": 10001},
    {"url": "https://example.com", "waitUntil": "idle"},
    {"url": "https://example.com", "hideSelectors": ["#x"] * 51},
    {"url": "https://example.com", "hideSelectors": [""]},
    {"url": "https://example.com", "css": "x" * 50_001},
    {"url": "https://example.com", "headers": {"X-Ok": "1"}},
    {"url": "https://example.com", "headers": {"Host": "evil"}},
    {"url": "https://example.com", "headers": {"bad name": "1"}},
    {"url": "https://example.com", "headers": {"X-A": "1\r\nX-B: 2"}},
    {"url": "https://example.com", "cookies": [{"name": "a", "value": "b", "sameSite": "Strict", "httpOnly": True}]},
    {"url": "https://example.com", "cookies": [{"name": "", "value": "b", "sameSite": "Sometimes"}]},
    {"url": "https://example.com", "blockResources": ["images", "ads"]},
    {"url": "https://example.com", "webhookUrl": "mailto:x@example.com"},
    {"url": "https://example.com", "metadata": {"k": "v" * 2100}},
    {"url": "https://example.com", "metadata": {"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}},
    {"url": "https://example.com", "externalId": ""},
    {"url": "https://example.com", "externalId": "x" * 129},
    {"url": "https://example.com", "fullPage": "yes"},
    {"url": "https://example.com", "fulPage": True},
    {"width": 100},
]


def server_verdict(body: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        ScreenshotRequest.model_validate(body)
    except ValidationError as error:
        return sorted((p.field, p.rule) for p in (problem_from_pydantic(dict(e)) for e in error.errors()))
    return []


def sdk_verdict(body: dict[str, Any]) -> list[tuple[str, str]]:
    try:
        sdk.screenshot_body(body)
    except shotwire.InvalidRequestError as error:
        assert error.client_side and error.status == 422 and error.code == "validation_error"
        return sorted((p["field"], p["rule"]) for p in error.details)
    return []


@pytest.mark.parametrize("body", CASES, ids=[str(i) for i in range(len(CASES))])
def test_the_sdk_judges_options_as_the_server_does(body: dict[str, Any]) -> None:
    assert sdk_verdict(body) == server_verdict(body)


def test_snake_case_options_become_the_apis_camel_case() -> None:
    body = _core.screenshot_body(
        _core._names({"url": "https://example.com", "full_page": True, "dark_mode": True, "webhook_url": "https://h/"})
    )
    assert body == {"url": "https://example.com", "fullPage": True, "darkMode": True, "webhookUrl": "https://h/"}
    cookie = _core.screenshot_body(
        {"url": "https://e.com", "cookies": [{"name": "a", "value": "b", "http_only": True}]}
    )
    assert cookie["cookies"] == [{"name": "a", "value": "b", "httpOnly": True}]


def test_batch_items_are_checked_where_the_server_would_name_them() -> None:
    items: list[str | dict[str, Any]] = ["https://a.example", {"url": "https://b.example", "width": 0}]
    with pytest.raises(batches.InvalidRequestError) as server:
        batches.expand(batches.BatchRequest.model_validate({"items": items, "defaults": {"format": "gif"}}))
    assert [p.field for p in server.value.problems] == ["defaults.format"]
    calls: list[httpx.Request] = []
    with shotwire.Client(api_key="k", transport=httpx.MockTransport(calls.append)) as client:  # type: ignore[arg-type]
        with pytest.raises(shotwire.InvalidRequestError) as ours:
            client.batch(items, format="gif")
        assert ours.value.fields == ["defaults.format"]
        with pytest.raises(shotwire.InvalidRequestError) as item:
            client.batch(items)
        assert item.value.fields == ["items[1].width"]
        with pytest.raises(shotwire.InvalidRequestError, match="split them") as too_many:
            client.batch(["https://a.example"] * (MAX_BATCH_ITEMS + 1))
        assert too_many.value.fields == ["items"]
        with pytest.raises(shotwire.InvalidRequestError):
            client.batch([])
    assert calls == []  # nothing was sent


def test_invalid_options_raise_before_any_request() -> None:
    calls: list[httpx.Request] = []
    with shotwire.Client(api_key="k", transport=httpx.MockTransport(calls.append)) as client:  # type: ignore[arg-type]
        with pytest.raises(shotwire.InvalidRequestError) as wide:
            client.submit("https://example.com", width=10001)
        with pytest.raises(shotwire.InvalidRequestError) as typo:
            client.capture("https://example.com", ful_page=True)
        with pytest.raises(shotwire.InvalidRequestError) as listing:
            client.list(limit=500, status="done")
        with pytest.raises(shotwire.InvalidRequestError) as receiver:
            client.send_test_webhook("ftp://example.com/hook")
        with pytest.raises(shotwire.InvalidRequestError) as big:
            client.batch([{"url": "https://example.com", "css": "x" * 50_000}] * 6)
    assert calls == []
    assert wide.value.fields == ["width"] and "width must be less than or equal to 10000" in str(wide.value)
    assert typo.value.fields == ["ful_page"] and typo.value.details[0]["rule"] == "extra_forbidden"
    assert sorted(listing.value.fields) == ["limit", "status"]
    assert receiver.value.fields == ["url"]
    assert big.value.fields == ["body"]


def test_configuration_errors() -> None:
    with pytest.raises(shotwire.ConfigurationError, match="SHOTWIRE_API_KEY"):
        shotwire.Client(api_key="")
    with pytest.raises(shotwire.ConfigurationError, match="base_url"):
        shotwire.Client(api_key="k", base_url="localhost:8000")


def test_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOTWIRE_API_KEY", "sw_from_env")
    monkeypatch.setenv("SHOTWIRE_API_URL", "http://127.0.0.1:9999/")
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"jobId": "job_1", "status": "queued"})

    with shotwire.Client(transport=httpx.MockTransport(answer)) as client:
        assert client.base_url == "http://127.0.0.1:9999"
        client.get("job_1")
    assert str(seen[0].url) == "http://127.0.0.1:9999/v1/screenshots/job_1"
    assert seen[0].headers["authorization"] == "Bearer sw_from_env"
    monkeypatch.delenv("SHOTWIRE_API_KEY")
    with pytest.raises(shotwire.ConfigurationError):
        shotwire.Client()
