"""Synchronous image answers as API Gateway delivers them: bytes only when the first Accept type is a binary
media type of the API (API Gateway hands any other request's client the base64 text), else the JSON job.

The API function runs on moto; devstack.apigw.gateway_body does to its answer what API Gateway does."""

from __future__ import annotations

import base64
import io
import json
import uuid
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from devstack.apigw import BINARY_MEDIA_TYPES, gateway_body
from devstack.gateway import proxy_event
from devstack.runtime import LocalContext
from shotwire_core.adapters.browser import CaptureResult, DestinationGuard
from shotwire_core.capture import run_capture
from shotwire_core.models import CaptureMessage, CaptureOptions
from shotwire_core.services import get_services
from tests.integration.conftest import KEY_A, Aws


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (0, 128, 0)).save(buffer, "PNG")
    return buffer.getvalue()


class StillCapturer:
    """Chromium's stand-in: every page is a small green PNG (the answer, not the browser, is under test)."""

    def capture(
        self, options: CaptureOptions, *, guard: DestinationGuard | None, not_after: float | None = None
    ) -> CaptureResult:
        return CaptureResult(png(8, 6), 8, 6, options.url, 200, "Green")


def invoke(api: ModuleType, path: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """The API function's proxy result for a POST, as the local gateway would invoke it."""
    all_headers = {"Authorization": f"Bearer {KEY_A}", "Content-Type": "application/json", **headers}
    event = proxy_event("POST", path, list(all_headers.items()), json.dumps(body).encode(), "127.0.0.1")
    result: dict[str, Any] = api.lambda_handler(event, LocalContext(function_name="shotwire-api"))
    return result


def finished_then_waited_for(api: ModuleType, accept: str | None, fmt: str = "png") -> tuple[dict[str, Any], str]:
    """The answer to `POST /v1/screenshots?wait=5` for a job that finished as the wait began.

    The job is submitted, captured (the capture function's logic, on moto), then submitted again with the
    same Idempotency-Key and ?wait: the replayed 202 names the finished job, so the wait ends at once."""
    body = {"url": "https://example.com/", "format": fmt}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = invoke(api, "/v1/screenshots", body, key)
    assert first["statusCode"] == 202, first
    job_id = json.loads(first["body"])["jobId"]
    services = get_services()
    run_capture(
        CaptureMessage(tenant_id="tenant-a", job_id=job_id),
        jobs=services.jobs,
        capturer=StillCapturer(),
        images=services.images,
        bus=services.bus,
        allow_private=True,
    )
    headers = {**key, **({"Accept": accept} if accept is not None else {})}
    return invoke(api, "/v1/screenshots?wait=5", body, headers), job_id


def header(result: dict[str, Any], name: str) -> str:
    headers = {key.lower(): value for key, value in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ", ".join(values)
    return headers[name.lower()]


def content_type(result: dict[str, Any]) -> str:
    return header(result, "Content-Type")


IMAGE = ["image/png", "image/png, application/json", "image/*", "IMAGE/PNG;q=0.9, */*"]
JOB = ["application/json, image/png", "*/*", None, "image/jpeg", "text/html, image/*", "*/*, image/png"]


@pytest.mark.parametrize("accept", IMAGE)
def test_an_accept_that_starts_with_the_images_type_gets_the_image_bytes(
    aws_stack: Aws, api_module: ModuleType, accept: str
) -> None:
    result, job_id = finished_then_waited_for(api_module, accept)
    # The function answers the image, base64 as Lambda proxy results carry bytes
    assert result["statusCode"] == 200 and result["isBase64Encoded"] is True
    assert content_type(result) == "image/png"
    # And API Gateway hands the client the bytes themselves
    data = gateway_body(result, accept)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "PNG" and image.size == (8, 6)
    assert data == base64.b64decode(result["body"])
    assert header(result, "X-Job-Id") == job_id


@pytest.mark.parametrize("accept", JOB)
def test_any_other_accept_gets_the_finished_job_as_json(
    aws_stack: Aws, api_module: ModuleType, accept: str | None
) -> None:
    result, job_id = finished_then_waited_for(api_module, accept)
    assert result["statusCode"] == 200 and not result.get("isBase64Encoded")
    assert content_type(result) == "application/json"
    job = json.loads(gateway_body(result, accept))
    assert job["jobId"] == job_id and job["status"] == "completed" and "screenshotUrl" in job


def test_a_pdf_is_answered_as_bytes_to_an_accept_that_starts_with_application_pdf(
    aws_stack: Aws, api_module: ModuleType
) -> None:
    result, _ = finished_then_waited_for(api_module, "application/pdf", fmt="pdf")
    assert content_type(result) == "application/pdf" and result["isBase64Encoded"] is True
    assert gateway_body(result, "application/pdf") == png(8, 6)  # the capturer's bytes, whatever they are

    result, _ = finished_then_waited_for(api_module, "image/*", fmt="pdf")
    assert content_type(result) == "application/json"


# --- gateway_body alone: API Gateway's rule, whatever the function answered ----------------------------

BASE64_TEXT = base64.b64encode(b"\x89PNG bytes").decode()
IMAGE_RESULT = {
    "statusCode": 200,
    "headers": {"Content-Type": "image/png"},
    "body": BASE64_TEXT,
    "isBase64Encoded": True,
}
JSON_RESULT = {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": '{"jobId":"job_1"}'}


@pytest.mark.parametrize(
    ("accept", "received"),
    [
        ("image/png", b"\x89PNG bytes"),
        ("image/png, application/json", b"\x89PNG bytes"),
        ("application/pdf", b"\x89PNG bytes"),  # the gateway looks at Accept, not at the body's Content-Type
        ("application/json, image/png", BASE64_TEXT.encode()),
        ("*/*", BASE64_TEXT.encode()),
        (None, BASE64_TEXT.encode()),
        ("", BASE64_TEXT.encode()),
    ],
)
def test_the_gateway_decodes_base64_only_for_a_first_accept_type_it_treats_as_binary(
    accept: str | None, received: bytes
) -> None:
    assert BINARY_MEDIA_TYPES == ("image/*", "application/pdf")
    assert gateway_body(IMAGE_RESULT, accept) == received


def test_a_catch_all_binary_media_type_converts_whatever_the_first_accept_type() -> None:
    assert gateway_body(IMAGE_RESULT, "*/*", ("*/*",)) == b"\x89PNG bytes"
    assert gateway_body(IMAGE_RESULT, "application/json", ("*/*",)) == b"\x89PNG bytes"


@pytest.mark.parametrize("accept", ["image/png", "application/json", None])
def test_a_text_answer_passes_as_it_is(accept: str | None) -> None:
    assert gateway_body(JSON_RESULT, accept) == b'{"jobId":"job_1"}'
    assert gateway_body({"statusCode": 204, "body": None}, accept) == b""
