"""The capture-style endpoint through the local stack: a second face on the same jobs, with its own shapes."""

from __future__ import annotations

import re
import struct
import urllib.request

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_pipeline import _verify_all_signatures
from tests.support import WebhookReceiver

pytestmark = pytest.mark.e2e

WEBHOOK_KEYS = ["capture_id", "status", "image", "width", "height", "format", "captured_at"]
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")


def test_a_capture_is_accepted_and_its_webhook_speaks_the_capture_shape(
    stack: Stack, pages: str, receiver: WebhookReceiver
) -> None:
    request = {
        "url": f"{pages}/tall",
        "width": 640,
        "height": 480,
        "fullpage": True,
        "format": "png",
        "callback_url": receiver.script("/cap", [200]),
    }
    status, accepted = stack.request("POST", "/v1/capture", request)
    assert status == 202 and accepted["status"] == "accepted", accepted
    assert set(accepted) == {"status", "capture_id"} and accepted["capture_id"].startswith("cap_")

    (delivery,) = receiver.wait_for("/cap")
    _verify_all_signatures(delivery.headers, delivery.body)  # same headers and signatures as every webhook
    body = delivery.json
    assert list(body) == WEBHOOK_KEYS, body
    assert body["capture_id"] == accepted["capture_id"] and body["status"] == "success" and body["format"] == "png"
    assert ISO_UTC.fullmatch(body["captured_at"]), body["captured_at"]
    with urllib.request.urlopen(body["image"], timeout=10) as response:
        image = response.read()
    width, height = struct.unpack(">II", image[16:24])  # the PNG header's real size
    assert (body["width"], body["height"]) == (width, height) == (640, 2600)  # full page: taller than the viewport

    status, shown = stack.request("GET", f"/v1/capture/{accepted['capture_id']}")
    assert status == 200 and list(shown) == WEBHOOK_KEYS
    assert {k: v for k, v in shown.items() if k != "image"} == {k: v for k, v in body.items() if k != "image"}

    job_id = "job_" + accepted["capture_id"].removeprefix("cap_")
    status, job = stack.request("GET", f"/v1/screenshots/{job_id}")  # one job, two faces
    assert status == 200 and job["status"] == "completed" and job["height"] == 2600


def test_a_capture_to_an_unresolvable_host_fails_with_its_reason(stack: Stack, receiver: WebhookReceiver) -> None:
    request = {
        "url": "http://no-such-host.invalid/",
        "format": "jpg",
        "callback_url": receiver.script("/cap-dns", [200]),
    }
    status, accepted = stack.request("POST", "/v1/capture", request)
    assert status == 202, accepted
    (delivery,) = receiver.wait_for("/cap-dns", timeout=60)
    body = delivery.json
    assert body["status"] == "failed" and "resolve" in body["error"] and "image" not in body, body
    assert body["format"] == "jpeg"  # jpg is accepted as jpeg
    assert list(body) == ["capture_id", "status", "width", "height", "format", "captured_at", "error"]


@pytest.mark.parametrize(
    ("request_body", "field"),
    [
        ({"url": "http://example.com", "fullpage": "yes"}, "fullpage"),
        ({"url": "http://example.com", "format": "gif"}, "format"),
        ({"url": "http://example.com", "width": 0}, "width"),
        ({"url": "http://example.com", "callback_url": "ftp://example.com/hook"}, "callback_url"),
        ({"url": "http://example.com", "callback_url": "https://user:pw@example.com/hook"}, "callback_url"),
        ({"url": "http://example.com", "fullPage": True}, "fullPage"),
        ({"width": 800}, "url"),
    ],
)
def test_bad_capture_requests_name_the_snake_case_field(
    stack: Stack, request_body: dict[str, object], field: str
) -> None:
    status, body = stack.request("POST", "/v1/capture", request_body)
    assert status == 422 and body["error"]["details"][0]["field"] == field, body


def test_an_unknown_capture_is_a_404(stack: Stack) -> None:
    status, body = stack.request("GET", "/v1/capture/cap_00000000000000000000000000")
    assert status == 404 and "cap_00000000000000000000000000" in body["error"]["message"], body
    status, body = stack.request("GET", "/v1/capture/whatever")
    assert status == 404, body
