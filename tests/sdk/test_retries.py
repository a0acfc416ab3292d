"""The retry policy over real HTTP: a scripted fake API on 127.0.0.1 (no stack needed)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

import shotwire
from shotwire._http import RetryPolicy
from shotwire.errors import parse_retry_after
from tests.sdk.conftest import Answer, FakeApi
from tests.support import closed_port

ACCEPTED = {"jobId": "job_01abc", "status": "queued", "createdAt": "2026-01-01T00:00:00.000Z"}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def client_for(api: FakeApi, **kwargs: Any) -> shotwire.Client:
    return shotwire.Client(api_key="sw_test_key", base_url=api.base_url, **kwargs)


def test_a_503_is_retried_with_the_same_idempotency_key_and_body(fake_api: FakeApi) -> None:
    fake_api.script("POST /v1/screenshots", Answer(503, {"error": {"code": "unavailable", "message": "x"}}))
    fake_api.scripts["POST /v1/screenshots"].append(Answer(202, ACCEPTED))
    with client_for(fake_api) as client:
        job = client.submit("https://example.com/", full_page=True)
    assert job.job_id == "job_01abc" and job.status == "queued" and job.url == "https://example.com/"
    first, second = fake_api.requests("POST /v1/screenshots")
    key = first.headers["idempotency-key"]
    assert len(key) == 36 and second.headers["idempotency-key"] == key
    assert first.body == second.body and json.loads(first.body) == {"url": "https://example.com/", "fullPage": True}
    assert first.headers["authorization"] == "Bearer sw_test_key"
    assert first.headers["user-agent"].startswith("shotwire-python/")


def test_a_429_waits_exactly_retry_after(fake_api: FakeApi) -> None:
    fake_api.script(
        "POST /v1/screenshots",
        Answer(429, {"error": {"code": "rate_limited", "message": "slow down"}}, {"Retry-After": "1"}),
        Answer(202, ACCEPTED),
    )
    with client_for(fake_api) as client:
        client.submit("https://example.com/")
    first, second = fake_api.requests("POST /v1/screenshots")
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert 1.0 <= second.at - first.at < 1.6


def test_retry_after_as_an_http_date_is_honoured(fake_api: FakeApi) -> None:
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    fake_api.script("GET /v1/screenshots/job_01abc", Answer(503, None, {"Retry-After": when}), Answer(200, ACCEPTED))
    with client_for(fake_api) as client:
        client.get("job_01abc")
    first, second = fake_api.requests()
    assert 0.9 <= second.at - first.at < 2.6  # the date has a one-second resolution


def test_every_retryable_status_is_retried_until_max_retries(fake_api: FakeApi) -> None:
    fake_api.script("GET /v1/screenshots/job_01abc", Answer(502), Answer(504), Answer(503))
    with client_for(fake_api, max_retries=2) as client:
        client._core.policy = RetryPolicy(max_retries=2, base_delay=0.01)
        with pytest.raises(shotwire.ServerError) as caught:
            client.get("job_01abc")
    assert len(fake_api.requests()) == 3
    assert caught.value.status == 503 and caught.value.code == "http_503" and caught.value.retried


def test_a_500_is_retried_only_when_the_request_is_idempotent(fake_api: FakeApi) -> None:
    error = {"error": {"code": "internal_error", "message": "internal error; please retry"}}
    fake_api.script("GET /v1/screenshots/job_01abc", Answer(500, error), Answer(200, ACCEPTED))
    fake_api.script("POST /v1/webhooks/test", Answer(500, error), Answer(200, {"delivered": True}))
    with client_for(fake_api) as client:
        client._core.policy = RetryPolicy(base_delay=0.01)
        assert client.get("job_01abc").job_id == "job_01abc"
        with pytest.raises(shotwire.ServerError) as caught:  # no Idempotency-Key: sending again could repeat it
            client.send_test_webhook("https://receiver.example/hook")
    assert len(fake_api.requests("GET /v1/screenshots/job_01abc")) == 2
    assert len(fake_api.requests("POST /v1/webhooks/test")) == 1
    assert caught.value.code == "internal_error" and caught.value.status == 500


def test_quota_exceeded_and_long_retry_after_are_raised_at_once(fake_api: FakeApi) -> None:
    quota = {"error": {"code": "quota_exceeded", "message": "monthly quota reached"}}
    fake_api.script("POST /v1/screenshots", Answer(429, quota, {"Retry-After": "30"}))
    fake_api.script("GET /v1/screenshots/job_01abc", Answer(503, None, {"Retry-After": "3600"}))
    with client_for(fake_api) as client:
        started = time.monotonic()
        with pytest.raises(shotwire.RateLimitError) as limited:
            client.submit("https://example.com/")
        with pytest.raises(shotwire.ServerError) as unavailable:
            client.get("job_01abc")
    assert time.monotonic() - started < 1
    assert limited.value.code == "quota_exceeded" and limited.value.retry_after == 30
    assert unavailable.value.headers["retry-after"] == "3600"
    assert len(fake_api.requests()) == 2


def test_a_refused_connection_is_retried_then_raised_as_transport_error() -> None:
    with shotwire.Client(api_key="k", base_url=f"http://127.0.0.1:{closed_port()}", max_retries=2) as client:
        slept: list[float] = []
        client._sleep = slept.append
        with pytest.raises(shotwire.TransportError) as caught:
            client.submit("https://example.com/")
    assert len(slept) == 2 and all(0 <= s <= 1.0 for s in slept)
    assert isinstance(caught.value.__cause__, httpx.ConnectError)
    assert "3 attempt(s)" in str(caught.value)


def test_errors_carry_status_code_message_and_details(fake_api: FakeApi) -> None:
    details = [{"field": "cursor", "rule": "invalid_cursor", "message": "cursor must be a nextCursor value"}]
    fake_api.script(
        "GET /v1/screenshots",
        Answer(422, {"error": {"code": "validation_error", "message": "invalid request", "details": details}}),
    )
    fake_api.script("DELETE /v1/screenshots/job_01abc", Answer(409, {"error": {"code": "conflict", "message": "busy"}}))
    fake_api.script("GET /v1/screenshots/job_02", Answer(401, {"error": {"code": "unauthorized", "message": "no"}}))
    with client_for(fake_api) as client:
        with pytest.raises(shotwire.InvalidRequestError) as invalid:
            client.list(cursor="abc")
        with pytest.raises(shotwire.ConflictError) as conflict:
            client.delete("job_01abc")
        with pytest.raises(shotwire.AuthenticationError) as unauthorized:
            client.get("job_02")
    assert invalid.value.status == 422 and invalid.value.fields == ["cursor"] and not invalid.value.client_side
    assert invalid.value.details == details
    assert (
        conflict.value.status == 409
        and conflict.value.code == "conflict"
        and str(conflict.value) == "409 conflict: busy"
    )
    assert unauthorized.value.status == 401 and isinstance(unauthorized.value, shotwire.APIError)


def test_a_delete_whose_retry_finds_nothing_has_succeeded(fake_api: FakeApi) -> None:
    # The first attempt deleted the job but its answer was lost (a 502 from a proxy); the retry gets a 404.
    fake_api.script(
        "DELETE /v1/screenshots/job_01abc",
        Answer(502),
        Answer(404, {"error": {"code": "not_found", "message": "no job"}}),
    )
    with client_for(fake_api) as client:
        client._core.policy = RetryPolicy(base_delay=0.01)
        client.delete("job_01abc")
        fake_api.script("DELETE /v1/screenshots/job_02", Answer(404, {"error": {"code": "not_found", "message": "x"}}))
        with pytest.raises(shotwire.NotFoundError):
            client.delete("job_02")


def test_capture_waits_again_with_the_same_key_and_takes_the_image_inline(fake_api: FakeApi) -> None:
    # A 202 after a server-side wait: asking again with the same key and body creates nothing but waits again.
    fake_api.script(
        "POST /v1/screenshots",
        Answer(202, ACCEPTED),
        Answer(200, PNG, {"Content-Type": "image/png", "X-Job-Id": "job_01abc"}),
    )
    with client_for(fake_api) as client:
        data = client.capture("https://example.com/", width=300, timeout=60)
    assert data == PNG
    first, second = fake_api.requests()
    assert first.query == {"wait": ["25"]} and first.headers["accept"].startswith("image/png")
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"] and second.body == first.body


def test_capture_backs_off_when_202s_come_back_before_the_wait_is_up(fake_api: FakeApi) -> None:
    """A proxy that drops ?wait= (or a server cutting it short) answers 202 at once: the client must not
    re-POST in a tight loop until the deadline, but pause as a poll would (0.5 s, then 1 s, ...)."""
    fake_api.script(
        "POST /v1/screenshots",
        Answer(202, ACCEPTED),
        Answer(202, ACCEPTED),
        Answer(200, PNG, {"Content-Type": "image/png", "X-Job-Id": "job_01abc"}),
    )
    with client_for(fake_api) as client:
        assert client.capture("https://example.com/", timeout=60) == PNG
    first, second, third = fake_api.requests()
    assert 0.45 <= second.at - first.at < 2.5  # not at once; the upper bound only allows for a busy machine
    assert 0.95 <= third.at - second.at < 3.0


def test_a_303_without_location_is_an_invalid_response_not_a_key_error(fake_api: FakeApi) -> None:
    fake_api.script("POST /v1/screenshots", Answer(303, None))
    with client_for(fake_api) as client, pytest.raises(shotwire.APIError) as caught:
        client.capture("https://example.com/")
    assert caught.value.code == "invalid_response" and "Location" in caught.value.message


def test_capture_follows_a_303_to_the_download_link_without_the_api_key(fake_api: FakeApi) -> None:
    fake_api.script("POST /v1/screenshots", Answer(303, None, {"Location": f"{fake_api.base_url}/bucket/job.png"}))
    fake_api.script("GET /bucket/job.png", Answer(200, PNG))
    with client_for(fake_api) as client:
        assert client.capture("https://example.com/") == PNG
    download = fake_api.requests("GET /bucket/job.png")[0]
    assert "authorization" not in download.headers


def test_an_expired_download_link_is_signed_again(fake_api: FakeApi) -> None:
    completed = {**ACCEPTED, "status": "completed", "screenshotUrl": f"{fake_api.base_url}/bucket/fresh.png"}
    fake_api.script("GET /bucket/old.png", Answer(403, b"<Error><Code>AccessDenied</Code></Error>"))
    fake_api.script("GET /v1/screenshots/job_01abc", Answer(200, completed))
    fake_api.script("GET /bucket/fresh.png", Answer(200, PNG))
    job = shotwire.Job.model_validate({**completed, "screenshotUrl": f"{fake_api.base_url}/bucket/old.png"})
    with client_for(fake_api) as client:
        assert client.download(job) == PNG


def test_the_async_client_shares_the_policy(fake_api: FakeApi) -> None:
    fake_api.script(
        "POST /v1/batches",
        Answer(429, {"error": {"code": "rate_limited", "message": "x"}}, {"Retry-After": "1"}),
        Answer(202, {"batchId": "bat_01", "status": "processing", "jobIds": ["job_1", "job_2"]}),
    )

    async def main() -> shotwire.Batch:
        async with shotwire.AsyncClient(api_key="k", base_url=fake_api.base_url) as client:
            return await client.batch(
                ["https://a.example/", {"url": "https://b.example/", "full_page": True}], width=300
            )

    batch = asyncio.run(main())
    assert batch.batch_id == "bat_01" and batch.job_ids == ["job_1", "job_2"] and batch.total == 2
    first, second = fake_api.requests()
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert 1.0 <= second.at - first.at < 1.6
    assert json.loads(first.body) == {
        "items": ["https://a.example/", {"url": "https://b.example/", "fullPage": True}],
        "defaults": {"width": 300},
    }


def test_backoff_is_full_jitter_capped() -> None:
    top = RetryPolicy(jitter=lambda: 1.0)
    assert [top.backoff(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    assert RetryPolicy(jitter=lambda: 0.0).backoff(5) == 0


def test_parse_retry_after() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 10) == 10
    assert parse_retry_after("1.5") == 1.5 and parse_retry_after(" 0.25 ") == 0.25 and parse_retry_after("0") == 0
    for unreadable in ("-1", "1e3", "inf", "nan", ".", "1.2.3", ""):
        assert parse_retry_after(unreadable) is None, unreadable


# --- scripted transports (httpx.MockTransport): both clients, failures after sending, no real waiting --------

Step = Callable[[httpx.Request], httpx.Response]


def answer(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Step:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def fail(kind: type[httpx.RequestError]) -> Step:
    def raising(request: httpx.Request) -> httpx.Response:
        raise kind(f"scripted {kind.__name__}", request=request)

    return raising


@dataclass
class Script:
    """Answers each request with the next step (the last one repeats); records requests and waits."""

    steps: list[Step]
    seen: list[httpx.Request] = field(default_factory=list)
    slept: list[float] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        step = self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]
        return step(request)


def drive(kind: str, script: Script, operation: str, *args: Any, max_retries: int = 4, **kwargs: Any) -> Any:
    """`client.<operation>(*args, **kwargs)` on a Client ("sync") or an AsyncClient ("async") over `script`."""
    options: dict[str, Any] = {"api_key": "k", "base_url": "http://api.test", "max_retries": max_retries}
    if kind == "sync":
        with shotwire.Client(transport=httpx.MockTransport(script), **options) as client:
            client._sleep = script.slept.append
            return getattr(client, operation)(*args, **kwargs)

    async def main() -> Any:
        async def sleep(seconds: float) -> None:
            script.slept.append(seconds)

        async with shotwire.AsyncClient(transport=httpx.MockTransport(script), **options) as client:
            client._sleep = sleep
            return await getattr(client, operation)(*args, **kwargs)

    return asyncio.run(main())


KINDS = pytest.mark.parametrize("kind", ["sync", "async"])
# What the server's idempotency layer answers while the first request with the key is still running.
IN_PROGRESS = {
    "error": {
        "code": "conflict",
        "message": "a request with Idempotency-Key 'k1' is still being processed; retry shortly",
    }
}
NOT_FOUND = {"error": {"code": "not_found", "message": "no job job_typo for this API key"}}


@KINDS
def test_a_submit_whose_retry_overtakes_the_first_attempt_gets_the_job(kind: str) -> None:
    # The first attempt reached the server (read timeout); the retries find it still running (409).
    script = Script(
        [fail(httpx.ReadTimeout), answer(409, IN_PROGRESS), answer(409, IN_PROGRESS), answer(202, ACCEPTED)]
    )
    job = drive(kind, script, "submit", "https://example.com/")
    assert job.job_id == "job_01abc" and job.status == "queued"
    assert len(script.seen) == 4 and len({r.headers["idempotency-key"] for r in script.seen}) == 1
    assert len({r.content for r in script.seen}) == 1
    # After a 409 the wait is at least half the backoff's cap (the first request needs time to finish).
    assert 0.5 <= script.slept[1] <= 1.0 and 1.0 <= script.slept[2] <= 2.0


@KINDS
def test_an_in_progress_conflict_is_retried_only_within_the_budget(kind: str) -> None:
    script = Script([answer(409, IN_PROGRESS)])
    with pytest.raises(shotwire.ConflictError) as caught:
        drive(kind, script, "redeliver", "job_01abc", max_retries=2)
    assert len(script.seen) == 3 and caught.value.retried


@KINDS
def test_other_conflicts_are_raised_at_once(kind: str) -> None:
    unfinished = {"error": {"code": "conflict", "message": "job job_01abc has not finished; its outcome is delivered"}}
    script = Script([answer(409, unfinished), answer(200, {"webhookId": "w"})])
    with pytest.raises(shotwire.ConflictError) as caught:
        drive(kind, script, "redeliver", "job_01abc")
    assert len(script.seen) == 1 and not caught.value.retried
    # Without an Idempotency-Key a 409 is never the idempotency layer's: not retried either.
    script = Script([answer(409, IN_PROGRESS), answer(204)])
    with pytest.raises(shotwire.ConflictError):
        drive(kind, script, "delete", "job_01abc")
    assert len(script.seen) == 1


@KINDS
@pytest.mark.parametrize(
    ("first", "deleted"),
    [
        pytest.param(answer(502), True, id="502"),
        pytest.param(answer(500), True, id="500"),
        pytest.param(answer(504), True, id="504"),
        pytest.param(answer(503), True, id="503-no-retry-after"),
        pytest.param(fail(httpx.ReadTimeout), True, id="read-timeout"),
        pytest.param(fail(httpx.RemoteProtocolError), True, id="dropped-after-send"),
        pytest.param(
            answer(429, {"error": {"code": "rate_limited", "message": "x"}}, {"Retry-After": "1"}), False, id="429"
        ),
        pytest.param(answer(503, None, {"Retry-After": "0.5"}), False, id="503-retry-after"),
        pytest.param(fail(httpx.ConnectError), False, id="connect-error"),
        pytest.param(fail(httpx.ConnectTimeout), False, id="connect-timeout"),
    ],
)
def test_a_delete_404_is_success_only_when_an_earlier_attempt_may_have_run(
    kind: str, first: Step, deleted: bool
) -> None:
    script = Script([first, answer(404, NOT_FOUND)])
    if deleted:
        assert drive(kind, script, "delete", "job_typo") is None
    else:
        with pytest.raises(shotwire.NotFoundError) as caught:
            drive(kind, script, "delete", "job_typo")
        assert caught.value.retried and not caught.value.earlier_attempt_may_have_run
    assert len(script.seen) == 2


@KINDS
def test_a_delete_404_after_rate_limiting_then_a_lost_answer_is_success(kind: str) -> None:
    limited = answer(429, {"error": {"code": "rate_limited", "message": "x"}}, {"Retry-After": "0"})
    script = Script([limited, fail(httpx.ReadTimeout), limited, answer(404, NOT_FOUND)])
    assert drive(kind, script, "delete", "job_01abc") is None
    assert len(script.seen) == 4
