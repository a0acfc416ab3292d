"""A job's cookie without a domain is host-only for the captured page, with the path the job gave it (not the
page's directory), through the capture path production uses, against real Chromium and a site on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from devstack.options import find_chromium
from shotwire_core.adapters.browser import BrowserEngine, CaptureResult
from shotwire_core.models import ScreenshotRequest, capture_options
from tests.support import Site

# Names under .test resolve to loopback, so a page can be on a named host with a subdomain beside it.
HOST = "app.shotwire.test"
SUBDOMAIN = f"sub.{HOST}"
PAGE = "/deep/dir/page.html"


@pytest.fixture(scope="module")
def engine() -> Iterator[BrowserEngine]:
    instance = BrowserEngine(find_chromium(), ("--host-resolver-rules=MAP *.shotwire.test 127.0.0.1",), concurrency=2)
    yield instance
    instance.close()


def deep_page(site: Site, host: str, *subresources: str) -> str:
    """The page at /deep/dir/page.html on `host`, loading each subresource as an image (before `load`)."""
    port = urlsplit(site.base_url).port
    images = "".join(f"<img src='{src}'>" for src in subresources)
    site.add(PAGE, f"<html><body>{images}</body></html>")
    for path in ("/other", "/deep/x"):
        site.add(path, "<svg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/>", content_type="image/svg+xml")
    return f"http://{host}:{port}{PAGE}"


def shoot(engine: BrowserEngine, url: str, cookie: dict[str, Any]) -> CaptureResult:
    """Validate like the API does, then capture like the capture function (no egress guard on loopback)."""
    options = capture_options(ScreenshotRequest.model_validate({"url": url, "timeoutMs": 15_000, "cookies": [cookie]}))
    return engine.capture(options, guard=None)


def cookies_sent(site: Site, host: str, path: str) -> list[str | None]:
    """The Cookie header of each request the site got for `path` on `host` (None: no Cookie header)."""
    port = urlsplit(site.base_url).port
    return [
        seen.headers.get("Cookie")
        for seen in site.seen
        if seen.path == path and seen.headers.get("Host") == f"{host}:{port}"
    ]


def test_a_host_only_cookie_reaches_the_whole_host_but_not_a_subdomain(engine: BrowserEngine, site: Site) -> None:
    # Given a page on a deep path that loads /other from its host and from a subdomain
    port = urlsplit(site.base_url).port
    url = deep_page(site, HOST, "/other", f"http://{SUBDOMAIN}:{port}/other")

    # When it is captured with a cookie that names no domain and no path (so Path=/)
    result = shoot(engine, url, {"name": "session", "value": "abc"})

    # Then the page and /other on its host carry the cookie; the subdomain does not get it
    assert result.http_status == 200
    assert cookies_sent(site, HOST, PAGE) == ["session=abc"]
    assert cookies_sent(site, HOST, "/other") == ["session=abc"]
    assert cookies_sent(site, SUBDOMAIN, "/other") == [None]


def test_a_host_only_cookie_keeps_the_path_it_was_given(engine: BrowserEngine, site: Site) -> None:
    # Given a page under /deep that loads /deep/x and /other
    url = deep_page(site, HOST, "/deep/x", "/other")

    # When it is captured with a host-only cookie for Path=/deep
    result = shoot(engine, url, {"name": "session", "value": "abc", "path": "/deep"})

    # Then everything under /deep carries it, and /other does not
    assert result.http_status == 200
    assert cookies_sent(site, HOST, PAGE) == ["session=abc"]
    assert cookies_sent(site, HOST, "/deep/x") == ["session=abc"]
    assert cookies_sent(site, HOST, "/other") == [None]


def test_a_host_prefixed_cookie_is_taken_for_a_page_on_a_deep_path(engine: BrowserEngine, site: Site) -> None:
    # Given a page on a deep path of 127.0.0.1 (loopback: a secure context, so Chromium keeps a Secure cookie
    # over plain http), loading /other
    url = deep_page(site, "127.0.0.1", "/other")

    # When it is captured with a __Host- cookie (Secure, Path=/, no domain)
    result = shoot(engine, url, {"name": "__Host-session", "value": "abc", "secure": True})

    # Then Chromium took it, and sent it to the page and to the rest of the host
    assert result.http_status == 200
    assert cookies_sent(site, "127.0.0.1", PAGE) == ["__Host-session=abc"]
    assert cookies_sent(site, "127.0.0.1", "/other") == ["__Host-session=abc"]
