"""SSRF through a strict local stack: a canary on loopback must receive zero requests.

The stack blocks private networks as a deployed one does; only the test site's host:port is allowed
(SHOTWIRE_ALLOWED_HOSTS), so its pages can be captured while they try to reach the canary.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import Site, devstack_process

pytestmark = pytest.mark.e2e

KEY = "sw_strict_stack_key_00001"


class Strict:
    def __init__(self, api_url: str) -> None:
        self.api_url = api_url

    def post(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(
            self.api_url + "/v1/screenshots",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def finished(self, job_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            request = urllib.request.Request(
                self.api_url + f"/v1/screenshots/{job_id}", headers={"Authorization": f"Bearer {KEY}"}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                job: dict[str, Any] = json.loads(response.read())
            if job["status"] in ("completed", "failed"):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def canary() -> Iterator[Site]:
    with Site().running() as site:
        site.add("/", "<h1>canary</h1>")
        yield site


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with Site().running() as running:
        yield running


@pytest.fixture(scope="module")
def strict(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Strict]:
    site_host = site.base_url.removeprefix("http://")
    env = {
        "SHOTWIRE_DEV_API_KEY": KEY,
        "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "0",
        "SHOTWIRE_ALLOWED_HOSTS": site_host,
        "SHOTWIRE_CAPTURE_TIMEOUT_MS": "10000",
    }
    log_path: Path = tmp_path_factory.mktemp("strict") / "devstack.log"
    with log_path.open("wb") as log, devstack_process(env, log) as running:
        yield Strict(running.api_url)


def _spellings(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://localhost:{port}/",
        f"http://LOCALHOST.:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://017700000001:{port}/",
        f"http://127.1:{port}/",
        f"http://127.0.1:{port}/",
        f"http://0x7f.0.0.1:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://[::1]:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://0:{port}/",
        f"http://127.0.0.1.:{port}/",
        f"http://%31%32%37.0.0.1:{port}/",
        f"http://foo.localhost:{port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.64.0.1/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[fe80::1]/",
    ]


def test_every_spelling_of_an_internal_address_is_refused(strict: Strict, canary: Site) -> None:
    port = int(canary.base_url.rsplit(":", 1)[1])
    for url in _spellings(port):
        status, body = strict.post({"url": url})
        if status == 202:  # anything not refused on sight must fail at capture time, unfetched
            job = strict.finished(body["jobId"])
            assert job["status"] == "failed" and job["errorCode"] == "blocked_url", (url, job)
        else:
            assert status == 422, (url, body)
            assert body["error"]["details"][0]["rule"] in ("blocked_url", "userinfo", "url_host"), (url, body)
        status, body = strict.post({"url": "https://example.com/", "webhookUrl": url})
        assert status == 422, (url, body)
    assert canary.seen == []


def test_subresources_frames_fetches_and_sockets_never_reach_the_canary(
    strict: Strict, site: Site, canary: Site
) -> None:
    port = int(canary.base_url.rsplit(":", 1)[1])
    targets = _spellings(port)[:12]
    tags = "".join(
        f"<img src='{u}img.png'><iframe src='{u}frame'></iframe><link rel='stylesheet' href='{u}style.css'>"
        f"<script src='{u}script.js'></script><video src='{u}video.mp4'></video>"
        for u in targets
    )
    script = "".join(
        f"fetch('{u}fetch', {{method: 'POST', body: 'x'}}).catch(() => {{}});"
        f"try {{ new WebSocket('{u.replace('http', 'ws')}socket') }} catch (e) {{}};"
        f"navigator.sendBeacon('{u}beacon', 'x');"
        f"var x = new XMLHttpRequest(); x.open('GET', '{u}xhr'); x.send();"
        for u in targets
    )
    css = (
        f"<style>body {{ background-image: url('{targets[0]}bg.png') }} @import url('{targets[1]}import.css');</style>"
    )
    url = site.add("/page", f"<html><head>{css}</head><body><h1>page</h1>{tags}<script>{script}</script></body></html>")
    status, body = strict.post({"url": url, "delayMs": 1500})
    assert status == 202, body
    job = strict.finished(body["jobId"])
    assert job["status"] == "completed", job
    assert site.requests_to("/page")  # the allowed site itself was fetched
    assert canary.seen == []


@pytest.mark.parametrize("kind", ["http-redirect", "meta-refresh", "script-navigation"])
def test_redirects_to_the_canary_fail_the_job_unfetched(strict: Strict, site: Site, canary: Site, kind: str) -> None:
    target = f"http://0x7f000001:{canary.base_url.rsplit(':', 1)[1]}/"
    if kind == "http-redirect":
        url = site.add(f"/{kind}", "", status=302, headers={"Location": target})
    elif kind == "meta-refresh":
        url = site.add(f"/{kind}", f"<meta http-equiv='refresh' content='0;url={target}'><h1 id='x'>x</h1>")
    else:
        url = site.add(f"/{kind}", f"<script>location.href = '{target}'</script>")
    status, body = strict.post({"url": url, "delayMs": 1000})
    assert status == 202
    job = strict.finished(body["jobId"])
    if kind == "http-redirect":
        assert job["status"] == "failed" and job["errorCode"] == "blocked_url", job
        assert "0x7f000001" in job["error"] or "127.0.0.1" in job["error"]
    assert canary.seen == []


@pytest.fixture
def udp_canary() -> Iterator[tuple[int, list[bytes]]]:
    """A UDP listener on loopback standing in for an internal STUN/TURN target."""
    received: list[bytes] = []
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def receive() -> None:
        while not stop.is_set():
            try:
                received.append(listener.recv(2048))
            except TimeoutError:
                continue

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    yield listener.getsockname()[1], received
    stop.set()
    thread.join()
    listener.close()


def test_webrtc_cannot_send_udp_to_an_internal_address(
    strict: Strict, site: Site, udp_canary: tuple[int, list[bytes]]
) -> None:
    """WebRTC's STUN/TURN traffic is UDP and would pass neither the proxy nor request interception."""
    port, received = udp_canary
    script = f"""
      const pc = new RTCPeerConnection({{iceServers: [
        {{urls: 'stun:127.0.0.1:{port}'}},
        {{urls: 'turn:127.0.0.1:{port}?transport=udp', username: 'u', credential: 'p'}}]}});
      pc.createDataChannel('x');
      pc.createOffer().then(offer => pc.setLocalDescription(offer));
    """
    url = site.add("/webrtc", f"<h1>rtc</h1><script>{script}</script>")
    status, body = strict.post({"url": url, "delayMs": 2000})
    assert status == 202, body
    job = strict.finished(body["jobId"])
    assert job["status"] == "completed", job
    assert received == []
