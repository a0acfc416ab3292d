"""Options Chromium would refuse are a 422 at submission, through the API handler (on moto); what the API
accepts, a real Chromium takes. The character-by-character rules are in tests/unit/test_option_validation.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from devstack.options import find_chromium
from shotwire_core.adapters.browser import BrowserEngine
from shotwire_core.services import get_services
from tests.integration.conftest import Aws
from tests.integration.test_api import call, queued_messages
from tests.support import Site

URL = "https://example.com/"
SECRET = "s3cret-value"


def cookie(**fields: Any) -> dict[str, Any]:
    return {"name": "session", "value": SECRET, **fields}


# One request per rule: (the options, the field the 422 names, the rule).
REFUSED = [
    ({"userAgent": "Mozilla/5.0\r\nX-Injected: 1"}, "userAgent", "control_character"),
    ({"userAgent": "Mozilla/5.0\x00"}, "userAgent", "control_character"),
    ({"headers": {"X-Trace": f"{SECRET}\nX-Injected: 1"}}, "headers", "header_value"),
    ({"headers": {"X-Trace": f"{SECRET}\x7f"}}, "headers", "header_value"),
    ({"headers": {"X Trace": "1"}}, "headers", "header_name"),
    ({"headers": {"X-Tracé": "1"}}, "headers", "header_name"),
    ({"headers": {"Host": "evil.example"}}, "headers", "header_forbidden"),
    ({"cookies": [cookie(name="a;b")]}, "cookies.0.name", "cookie_name"),
    ({"cookies": [cookie(name="a b")]}, "cookies.0.name", "cookie_name"),
    ({"cookies": [cookie(value=f"{SECRET};Path=/")]}, "cookies.0.value", "cookie_value"),
    ({"cookies": [cookie(value=f"{SECRET}\r\n")]}, "cookies.0.value", "cookie_value"),
    ({"cookies": [cookie(value="v" * 4090)]}, "cookies.0.value", "cookie_too_large"),
    ({"cookies": [cookie(domain="https://example.com")]}, "cookies.0.domain", "cookie_domain"),
    ({"cookies": [cookie(domain="example.com:8443")]}, "cookies.0.domain", "cookie_domain"),
    ({"cookies": [cookie(domain="example.com", path="app")]}, "cookies.0.path", "cookie_path"),
    ({"cookies": [cookie(sameSite="None")]}, "cookies.0.sameSite", "samesite_none_insecure"),
    ({"cookies": [cookie(name="__Secure-id")]}, "cookies.0.secure", "cookie_prefix"),
    ({"cookies": [cookie(name="__Host-id", secure=True, path="/app")]}, "cookies.0.path", "cookie_prefix"),
    (
        {"cookies": [cookie(), cookie(name="__Host-id", secure=True, domain=".example.com")]},
        "cookies.1.domain",
        "cookie_prefix",
    ),
]


@pytest.mark.parametrize(("options", "field", "rule"), REFUSED, ids=[f"{f}-{r}" for _, f, r in REFUSED])
def test_an_option_chromium_would_refuse_is_a_422_naming_the_field_and_rule(
    aws_stack: Aws, api_module: ModuleType, options: dict[str, Any], field: str, rule: str
) -> None:
    status, body, _ = call(api_module, "POST", "/v1/screenshots", {"url": URL, **options})
    assert status == 422, body
    error = body["error"]
    assert error["code"] == "validation_error"
    assert [(d["field"], d["rule"]) for d in error["details"]] == [(field, rule)]
    assert field in error["message"] and field in error["details"][0]["message"]
    assert SECRET not in json.dumps(body)  # header and cookie values are secrets: never echoed
    assert queued_messages(aws_stack) == []


def test_a_batch_names_the_item_and_the_default_that_break_a_rule(aws_stack: Aws, api_module: ModuleType) -> None:
    items = [URL, {"url": URL, "headers": {"X-Trace": "a\r\nb"}}]
    status, body, _ = call(api_module, "POST", "/v1/batches", {"items": items})
    assert status == 422, body
    assert [(d["field"], d["rule"]) for d in body["error"]["details"]] == [("items[1].headers", "header_value")]

    defaults = {"cookies": [cookie(sameSite="None")]}
    status, body, _ = call(api_module, "POST", "/v1/batches", {"items": [URL], "defaults": defaults})
    assert status == 422, body
    assert [(d["field"], d["rule"]) for d in body["error"]["details"]] == [
        ("defaults.cookies.0.sameSite", "samesite_none_insecure")
    ]
    assert queued_messages(aws_stack) == []


def good_options(page: str) -> dict[str, Any]:
    """Values at the edges of the rules, each one Chromium 156 takes."""
    return {
        "url": page,
        "userAgent": "shotwire-test/1.0 (tab\there; café)",
        "headers": {"X-Tab": "a\tb", "X-Text": "café 日本", "X-Empty": "", "X-Punctuated": '"q", a=b; c'},
        "cookies": [
            {"name": "plain", "value": 'inner spaces, "quotes", a=b and \\ é'},
            {"name": "odd,(name)/@é", "value": ""},
            {"name": "big", "value": "v" * (4096 - len("big"))},
            {"name": "wide", "value": "1", "domain": ".example.com", "path": "/a b/é"},
            {"name": "idn", "value": "1", "domain": "bücher.de"},
            {"name": "v6", "value": "1", "domain": "[::1]"},
            {"name": "cross-site", "value": "1", "domain": "example.com", "sameSite": "None", "secure": True},
            {"name": "__Secure-id", "value": "1", "domain": ".example.com", "secure": True},
            {"name": "__Host-id", "value": "1", "domain": "example.com", "path": "/", "secure": True},
        ],
    }


@pytest.fixture
def engine() -> Iterator[BrowserEngine]:
    instance = BrowserEngine(find_chromium(), concurrency=1)
    yield instance
    instance.close()


def test_what_the_api_accepts_a_real_chromium_takes(
    aws_stack: Aws, api_module: ModuleType, engine: BrowserEngine, site: Site
) -> None:
    # Given a request at the edges of every rule, accepted by the API
    page = site.add("/", "<p>hello</p>")
    status, body, _ = call(api_module, "POST", "/v1/screenshots", good_options(page))
    assert status == 202, body

    # When the capture function's browser takes the job as it was stored
    job = get_services().jobs.get("tenant-a", body["jobId"])
    assert job is not None
    result = engine.capture(job.options, guard=None)

    # Then Chromium refused nothing, and the page got the agent, the headers and the host-only cookies
    assert result.http_status == 200
    request = site.requests_to("/")[0].headers
    # (Chromium sends the é of the agent as one Latin-1 byte, but headers as UTF-8: only ASCII is compared.)
    assert request["User-Agent"].startswith("shotwire-test/1.0 (tab\there; caf")
    assert request["X-Tab"] == "a\tb" and request["X-Empty"] == ""
    sent = request["Cookie"]
    assert 'plain=inner spaces, "quotes", a=b and \\ ' in sent and f"big={'v' * 4093}" in sent
