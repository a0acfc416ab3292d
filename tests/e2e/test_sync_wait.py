"""Synchronous waits through the local stack: the same queue and capture function, watched for up to N s."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import API_KEY, Stack

pytestmark = pytest.mark.e2e


def post(
    stack: Stack, path: str, body: dict[str, object], headers: dict[str, str]
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        stack.api_url + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}", **headers},
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=40) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers.items()), error.read()


def test_wait_answers_200_with_the_finished_job(stack: Stack, pages: str) -> None:
    started = time.monotonic()
    status, headers, body = post(stack, "/v1/screenshots?wait=20", {"url": f"{pages}/simple"}, {})
    elapsed = time.monotonic() - started
    job = json.loads(body)
    assert status == 200, job
    assert job["status"] == "completed" and job["screenshotUrl"] and job["title"] == "Simple"
    assert headers["Location"] == f"/v1/screenshots/{job['jobId']}"
    assert elapsed < 20


def test_prefer_wait_with_accept_image_returns_the_image_itself(stack: Stack, pages: str) -> None:
    status, headers, body = post(
        stack, "/v1/screenshots", {"url": f"{pages}/simple"}, {"Prefer": "wait=20", "Accept": "image/*"}
    )
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG\r\n\x1a\n")
    assert headers["Preference-Applied"] == "wait=20" and headers["X-Job-Id"].startswith("job_")
    _, job = stack.request("GET", f"/v1/screenshots/{headers['X-Job-Id']}")
    assert job["status"] == "completed" and job["imageBytes"] == len(body)  # the stored image, byte for byte


def test_a_capture_slower_than_the_wait_answers_202_and_finishes_anyway(stack: Stack, pages: str) -> None:
    started = time.monotonic()
    status, _, body = post(stack, "/v1/screenshots?wait=1", {"url": f"{pages}/simple", "delayMs": 4000}, {})
    elapsed = time.monotonic() - started
    accepted = json.loads(body)
    assert status == 202 and accepted["status"] == "queued", accepted
    assert elapsed < 4
    stack.wait_job(accepted["jobId"], lambda j: j["status"] == "completed", timeout=30)


def test_a_failed_capture_is_a_finished_job_too(stack: Stack, pages: str) -> None:
    status, _, body = post(
        stack, "/v1/screenshots?wait=20", {"url": f"{pages}/missing", "failOnHttpError": True}, {"Accept": "image/*"}
    )
    job = json.loads(body)  # no image to give: the job, as JSON
    assert status == 200 and job["status"] == "failed" and job["errorCode"] == "http_error", job


@pytest.mark.parametrize("wait", ["26", "-1", "soon"])
def test_an_out_of_range_wait_is_a_422(stack: Stack, pages: str, wait: str) -> None:
    status, _, body = post(stack, f"/v1/screenshots?wait={wait}", {"url": f"{pages}/simple"}, {})
    error = json.loads(body)["error"]
    assert status == 422 and error["details"][0]["field"] == "wait", error


def test_a_waiting_request_does_not_hold_up_the_rest_of_the_api(stack: Stack, pages: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    slow = {"url": f"{pages}/simple", "delayMs": 3000}
    with ThreadPoolExecutor(max_workers=2) as pool:
        started = time.monotonic()
        waits = [pool.submit(post, stack, "/v1/screenshots?wait=20", slow, {}) for _ in range(2)]
        time.sleep(0.5)
        health_started = time.monotonic()
        status, _ = stack.request("GET", "/v1/screenshots?limit=1")
        health_took = time.monotonic() - health_started
        answers = [future.result() for future in waits]
        both_took = time.monotonic() - started
    assert status == 200 and health_took < 2, health_took  # answered while two requests were waiting
    assert [answer[0] for answer in answers] == [200, 200]
    assert both_took < 12, both_took  # side by side: one 3 s delay each, not one after the other
