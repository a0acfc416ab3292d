"""Every capture option against real Chromium and pages on 127.0.0.1: pixels, sizes and what the site saw."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from devstack.options import find_chromium
from shotwire_core.adapters.browser import BrowserEngine, CaptureError, CaptureResult
from shotwire_core.models import ScreenshotRequest, capture_options
from tests.support import Site

RED, GREEN, BLUE, BLACK, WHITE = (255, 0, 0), (0, 128, 0), (0, 0, 255), (0, 0, 0), (255, 255, 255)


@pytest.fixture(scope="module")
def engine() -> Iterator[BrowserEngine]:
    # Ad hosts resolve to loopback here, so a failure to block them reaches our site, never the internet.
    instance = BrowserEngine(
        find_chromium(), ("--host-resolver-rules=MAP ads.doubleclick.net 127.0.0.1",), concurrency=4
    )
    yield instance
    instance.close()


def shoot(engine: BrowserEngine, **request: Any) -> CaptureResult:
    """Validate like the API does, then capture."""
    request.setdefault("timeoutMs", 15_000)
    options = capture_options(ScreenshotRequest.model_validate(request))
    return engine.capture(options, guard=None)


def pixel(result: CaptureResult, x: int, y: int) -> tuple[int, ...]:
    with Image.open(io.BytesIO(result.image)) as image:
        return tuple(image.convert("RGBA").getpixel((x, y)))


def colour_page(colour: str, extra: str = "") -> str:
    return f"<html><head><style>html,body{{margin:0;background:{colour}}}</style>{extra}</head><body></body></html>"


def test_device_scale_factor_multiplies_the_image(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", colour_page("red"))
    result = shoot(engine, url=url, width=300, height=200, deviceScaleFactor=2)
    assert (result.width, result.height) == (600, 400)


def test_device_preset_sets_viewport_scale_touch_and_user_agent(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        "<meta name='viewport' content='width=device-width'>"
        "<script>document.title = (matchMedia('(pointer: coarse)').matches ? 'touch ' : 'mouse ')"
        " + innerWidth</script>",
    )
    result = shoot(engine, url=url, device="iphone-15")
    assert (result.width, result.height) == (393 * 3, 659 * 3)
    assert result.title == "touch 393"
    assert "iPhone" in site.requests_to("/")[0].headers["User-Agent"]


@pytest.mark.parametrize(("fmt", "pil_format"), [("png", "PNG"), ("jpeg", "JPEG"), ("webp", "WEBP")])
def test_image_formats(engine: BrowserEngine, site: Site, fmt: str, pil_format: str) -> None:
    url = site.add("/", colour_page("blue"))
    result = shoot(engine, url=url, width=320, height=240, format=fmt)
    with Image.open(io.BytesIO(result.image)) as image:
        assert image.format == pil_format and image.size == (320, 240)
    assert pixel(result, 10, 10)[:3] == pytest.approx(BLUE, abs=8)


def test_pdf(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<h1>PDF</h1>")
    result = shoot(engine, url=url, format="pdf", width=600, height=800)
    assert result.image.startswith(b"%PDF-") and (result.width, result.height) == (600, 800)


def test_quality_changes_the_jpeg(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<body style='background:linear-gradient(90deg,red,blue,green)'><h1>quality</h1></body>")
    low = shoot(engine, url=url, format="jpeg", quality=5)
    high = shoot(engine, url=url, format="jpeg", quality=95)
    assert len(low.image) * 3 < len(high.image)


@pytest.mark.parametrize("fmt", ["png", "webp"])
def test_omit_background_is_transparent(engine: BrowserEngine, site: Site, fmt: str) -> None:
    url = site.add("/", "<html><body style='margin:0'><div style='width:50px;height:50px;background:red'></div></body>")
    result = shoot(engine, url=url, width=200, height=200, format=fmt, omitBackground=True)
    assert pixel(result, 150, 150)[3] == 0
    assert pixel(result, 10, 10)[:3] == pytest.approx(RED, abs=8)
    opaque = shoot(engine, url=url, width=200, height=200, format=fmt)
    assert pixel(opaque, 150, 150)[3] == 255


def test_full_page_scrolls_lazy_images_into_loading(engine: BrowserEngine, site: Site) -> None:
    site.add(
        "/lazy.svg", "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", content_type="image/svg+xml"
    )
    url = site.add(
        "/",
        "<body style='margin:0'><div style='height:3000px'>tall</div>"
        "<img loading='lazy' src='/lazy.svg' width='10' height='10'></body>",
    )
    shoot(engine, url=url, width=400, height=300)
    assert site.requests_to("/lazy.svg") == []  # not in view: a viewport capture leaves it unloaded
    result = shoot(engine, url=url, width=400, height=300, fullPage=True)
    assert site.requests_to("/lazy.svg")
    assert result.height >= 3000 and not result.truncated


def test_max_height_cuts_a_tall_page_and_says_so(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<body style='margin:0'><div style='height:5000px;background:green'></div></body>")
    result = shoot(engine, url=url, width=300, height=200, fullPage=True, maxHeight=1200)
    assert (result.width, result.height) == (300, 1200)
    assert result.truncated and any("maxHeight" in warning for warning in result.warnings)


def test_selector_captures_one_element(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        "<body style='margin:0'><p>x</p><div id='card' style='width:210px;height:90px;"
        "background:red;margin:40px'></div></body>",
    )
    result = shoot(engine, url=url, selector="#card")
    assert (result.width, result.height) == (210, 90)
    assert pixel(result, 100, 45)[:3] == pytest.approx(RED, abs=8)


def test_selector_that_matches_nothing_is_a_render_error(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<p>no card here</p>")
    with pytest.raises(CaptureError) as caught:
        shoot(engine, url=url, selector="#card", timeoutMs=3000)
    assert caught.value.code == "render_error" and "#card" in caught.value.message


def test_clip(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        "<body style='margin:0'><div style='position:absolute;left:100px;top:50px;width:60px;"
        "height:40px;background:blue'></div></body>",
    )
    result = shoot(engine, url=url, clip={"x": 100, "y": 50, "width": 60, "height": 40})
    assert (result.width, result.height) == (60, 40)
    assert pixel(result, 30, 20)[:3] == pytest.approx(BLUE, abs=8)


def test_networkidle_never_reached_is_captured_anyway(engine: BrowserEngine, site: Site) -> None:
    site.add("/ping", "ok", content_type="text/plain", delay=0.2)
    url = site.add("/", colour_page("green", "<script>setInterval(() => fetch('/ping'), 100)</script>"))
    result = shoot(engine, url=url, waitUntil="networkidle", timeoutMs=4000)
    assert pixel(result, 5, 5)[:3] == pytest.approx(GREEN, abs=8)
    assert any("networkidle" in warning for warning in result.warnings)


@pytest.mark.parametrize("wait_until", ["load", "domcontentloaded", "commit"])
def test_other_wait_states(engine: BrowserEngine, site: Site, wait_until: str) -> None:
    url = site.add("/", colour_page("green"))
    result = shoot(engine, url=url, waitUntil=wait_until)
    assert result.http_status == 200 and not result.warnings


def test_wait_for_selector(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        "<body style='margin:0'><script>setTimeout(() => document.body.innerHTML ="
        " \"<div id='late' style='width:100px;height:100px;background:red'></div>\", 600)</script>",
    )
    result = shoot(engine, url=url, waitForSelector="#late")
    assert pixel(result, 50, 50)[:3] == pytest.approx(RED, abs=8)
    with pytest.raises(CaptureError) as caught:
        shoot(engine, url=url, waitForSelector="#never", timeoutMs=2000)
    assert caught.value.code == "render_error"


def test_delay_waits_before_the_capture(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/", colour_page("white", "<script>setTimeout(() => document.body.style.background = 'red', 500)</script>")
    )
    assert pixel(shoot(engine, url=url), 5, 5)[:3] == pytest.approx(WHITE, abs=8)
    assert pixel(shoot(engine, url=url, delayMs=1500), 5, 5)[:3] == pytest.approx(RED, abs=8)


def test_dark_mode_and_reduced_motion(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        colour_page(
            "white", "<style>@media (prefers-color-scheme: dark) { body { background: black !important } }</style>"
        ),
    )
    assert pixel(shoot(engine, url=url), 5, 5)[:3] == pytest.approx(WHITE, abs=8)
    assert pixel(shoot(engine, url=url, darkMode=True), 5, 5)[:3] == pytest.approx(BLACK, abs=8)
    url = site.add(
        "/motion",
        colour_page(
            "white", "<style>@media (prefers-reduced-motion: reduce) { body { background: blue !important } }</style>"
        ),
    )
    assert pixel(shoot(engine, url=url, reducedMotion=True), 5, 5)[:3] == pytest.approx(BLUE, abs=8)


def test_hide_selectors_css_and_javascript(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        "<body style='margin:0;background:white'><div id='ad' style='width:100px;height:100px;"
        "background:red'></div></body>",
    )
    assert pixel(shoot(engine, url=url), 50, 50)[:3] == pytest.approx(RED, abs=8)
    assert pixel(shoot(engine, url=url, hideSelectors=["#ad", "p:nth-child("]), 50, 50)[:3] == pytest.approx(
        WHITE, abs=8
    )
    assert pixel(shoot(engine, url=url, css="#ad { background: blue !important }"), 50, 50)[:3] == pytest.approx(
        BLUE, abs=8
    )
    script = "document.getElementById('ad').style.background = 'green'; await new Promise(r => setTimeout(r, 50));"
    assert pixel(shoot(engine, url=url, javascript=script), 50, 50)[:3] == pytest.approx(GREEN, abs=8)


def test_javascript_that_throws_is_a_render_error(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<p>x</p>")
    with pytest.raises(CaptureError) as caught:
        shoot(engine, url=url, javascript="throw new Error('boom')")
    assert caught.value.code == "render_error" and "boom" in caught.value.message


def test_javascript_and_css_apply_despite_a_strict_csp(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/", colour_page("white", "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'\">")
    )
    result = shoot(engine, url=url, css="body { background: red !important }")
    assert pixel(result, 5, 5)[:3] == pytest.approx(RED, abs=8)


def test_user_agent_headers_and_cookies_reach_the_site(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<p>hello</p>")
    shoot(
        engine,
        url=url,
        userAgent="shotwire-test/1.0",
        headers={"X-Trace": "abc"},
        cookies=[{"name": "session", "value": "s3cret"}],
    )
    headers = site.requests_to("/")[0].headers
    assert headers["User-Agent"] == "shotwire-test/1.0"
    assert headers["X-Trace"] == "abc"
    assert "session=s3cret" in headers["Cookie"]


def test_block_resources(engine: BrowserEngine, site: Site) -> None:
    site.add(
        "/pic.svg", "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", content_type="image/svg+xml"
    )
    site.add("/style.css", "body { background: red }", content_type="text/css")
    url = site.add("/", "<link rel='stylesheet' href='/style.css'><img src='/pic.svg'>")
    shoot(engine, url=url, blockResources=["images", "stylesheets"])
    assert site.requests_to("/pic.svg") == [] and site.requests_to("/style.css") == []
    shoot(engine, url=url)
    assert site.requests_to("/pic.svg") and site.requests_to("/style.css")


def test_block_ads(engine: BrowserEngine, site: Site) -> None:
    port = site.base_url.rsplit(":", 1)[1]
    site.add("/ad.js", "document.title = 'ad ran'", content_type="application/javascript")
    url = site.add("/", f"<title>no ad</title><script src='http://ads.doubleclick.net:{port}/ad.js'></script>")
    assert shoot(engine, url=url).title == "ad ran"  # control: the ad host is reachable here
    site.seen.clear()
    assert shoot(engine, url=url, blockAds=True).title == "no ad"
    assert site.requests_to("/ad.js") == []


def test_block_cookie_banners(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        colour_page(
            "white",
            "</head><body><div id='onetrust-banner-sdk' style='position:fixed;"
            "inset:0;background:red'>We use cookies</div>",
        ),
    )
    assert pixel(shoot(engine, url=url), 5, 5)[:3] == pytest.approx(RED, abs=8)
    assert pixel(shoot(engine, url=url, blockCookieBanners=True), 5, 5)[:3] == pytest.approx(WHITE, abs=8)


def test_fail_on_http_error(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/gone", "<h1>Not here</h1>", status=404)
    assert shoot(engine, url=url).http_status == 404  # captured as is by default
    with pytest.raises(CaptureError) as caught:
        shoot(engine, url=url, failOnHttpError=True)
    assert caught.value.code == "http_error" and "404" in caught.value.message


def test_final_url_after_redirects(engine: BrowserEngine, site: Site) -> None:
    site.add("/final", "<title>Final</title><h1 id='final'>Final</h1>")
    url = site.add("/start", "<script>location.replace('/final')</script>")
    result = shoot(engine, url=url, waitForSelector="#final", timeoutMs=5000)
    assert result.final_url.endswith("/final") and result.title == "Final"


def test_jobs_do_not_share_cookies_or_storage(engine: BrowserEngine, site: Site) -> None:
    url = site.add(
        "/",
        "<script>document.title = (document.cookie || 'none') + '|' + "
        "(localStorage.getItem('k') || 'none'); document.cookie = 'leak=1';"
        " localStorage.setItem('k', 'v')</script>",
    )
    assert shoot(engine, url=url).title == "none|none"
    assert shoot(engine, url=url).title == "none|none"


def test_jobs_render_concurrently_in_one_browser(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/slow", "<p>slow</p>", delay=0.8)
    launches = engine.launches
    results: list[CaptureResult] = []
    threads = [threading.Thread(target=lambda: results.append(shoot(engine, url=url))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4
    assert site.peak_in_flight >= 2  # the pages were loading at the same time
    assert engine.launches == launches  # and no new browser was needed


def test_tmp_does_not_grow_over_many_captures(engine: BrowserEngine, site: Site) -> None:
    url = site.add("/", "<p>x</p>")
    shoot(engine, url=url)
    before = set(os.listdir("/tmp"))
    for _ in range(25):
        shoot(engine, url=url)
    assert len(set(os.listdir("/tmp")) - before) <= 2
