"""Delivery logic: what is recorded, when a retry is scheduled, hops past SQS's 15-minute limit, the DLQ."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from shotwire_core.adapters.webhook_http import parse_retry_after
from shotwire_core.circuit import DestinationRule, HostStates
from shotwire_core.delivery import (
    MAX_RETRY_AFTER_SECONDS,
    Prepared,
    deliver,
    handle_retry,
    jittered,
    judge,
    open_delivery,
    prepare,
    signed_body,
)
from shotwire_core.models import CaptureOptions, Job, JobStatus, RetryMessage, Tenant, WebhookStatus
from shotwire_core.sending import DeliveryResult
from shotwire_core.signing import generate_webhook_secret, signature_headers
from tests.unit.fakes import FakeImages, FakeJobs, FakeQueue, FakeTenants

SECRET = generate_webhook_secret()


def _job(status: JobStatus = JobStatus.COMPLETED, webhook: str | None = "https://hooks.test/x") -> Job:
    return Job(
        tenant_id="t1",
        job_id="job_1",
        status=status,
        options=CaptureOptions(url="https://example.com", width=800, height=600),
        webhook_url=webhook,
        webhook_status=WebhookStatus.PENDING if webhook else None,
        created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:01.000Z",
        completed_at="2026-01-01T00:00:01.000Z",
        image_key="t1/job_1.png",
        image_width=800,
        image_height=1900,
    )


class Harness:
    def __init__(self, job: Job, answers: list[DeliveryResult], schedule: tuple[int, ...] = (5, 300, 3600)) -> None:
        self.jobs = FakeJobs()
        self.jobs.create(job)
        open_delivery(job.tenant_id, job.job_id, jobs=self.jobs)  # as the dispatcher does on the outcome event
        self.retries = FakeQueue()
        self.dlq = FakeQueue()
        self.answers = answers
        self.requests: list[tuple[str, bytes, dict[str, str]]] = []
        self.schedule = schedule
        self.now = 1_000_000.0
        self.jitter: Callable[[float], float] = lambda wait: wait  # exact waits unless a test asks for jitter
        self.hosts: HostStates | None = None  # destination health; none unless a test brings a store
        self.rule = DestinationRule()

    def send(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        self.requests.append((url, body, headers))
        return self.answers.pop(0)

    def attempt(self, number: int) -> WebhookStatus | None:
        return deliver(
            "t1",
            "job_1",
            number,
            jobs=self.jobs,
            tenants=FakeTenants({"t1": Tenant(tenant_id="t1", name="t", webhook_secret=SECRET)}),
            links=FakeImages(),
            retry_queue=self.retries,
            dead_letters=self.dlq,
            send=self.send,
            sign=signature_headers,
            retry_schedule=self.schedule,
            link_ttl_seconds=3600,
            clock=lambda: self.now,
            jitter=self.jitter,
            hosts=self.hosts,
            rule=self.rule,
        )


OK = DeliveryResult(200, None, None, 3)
FAIL = DeliveryResult(500, "http_status", "receiver answered HTTP 500", 3)


def test_success_is_recorded_and_nothing_is_scheduled() -> None:
    harness = Harness(_job(), [OK])
    assert harness.attempt(1) is WebhookStatus.DELIVERED
    assert [a.status_code for a in harness.jobs.attempts_of("t1", "job_1")] == [200]
    job = harness.jobs.get("t1", "job_1")
    assert job is not None and job.webhook_status is WebhookStatus.DELIVERED
    assert harness.retries.sent == [] and harness.dlq.sent == []
    _, body, headers = harness.requests[0]
    assert b'"width":800,"height":1900' in body  # the image's real size
    assert headers["webhook-id"] == "msg_1"


def test_failure_schedules_the_next_attempt_with_its_wait() -> None:
    harness = Harness(_job(), [FAIL])
    assert harness.attempt(1) is WebhookStatus.RETRYING
    ((body, delay),) = harness.retries.sent
    assert body == {"tenantId": "t1", "jobId": "job_1", "attempt": 2, "dueAt": harness.now + 5, "delivery": 1}
    assert delay == 5


def test_long_waits_are_capped_at_the_sqs_limit_and_hop() -> None:
    harness = Harness(_job(), [FAIL, FAIL], schedule=(5, 3600))
    harness.attempt(1)
    harness.attempt(2)
    body, delay = harness.retries.sent[-1]
    assert delay == 900 and body["dueAt"] == harness.now + 3600

    # An early receipt hops again instead of delivering.
    delivered: list[int] = []
    message = RetryMessage.model_validate(body)
    queue = FakeQueue()
    harness.now += 900
    handle_retry(
        message,
        retry_queue=queue,
        clock=lambda: harness.now,
        deliver_attempt=lambda t, j, a, d: delivered.append(a) or None,
    )
    assert delivered == [] and queue.sent[0][1] == 900
    harness.now += 2700
    handle_retry(
        message,
        retry_queue=queue,
        clock=lambda: harness.now,
        deliver_attempt=lambda t, j, a, d: delivered.append(a) or None,
    )
    assert delivered == [3]


def test_last_failure_parks_the_delivery_in_the_dlq() -> None:
    harness = Harness(_job(), [FAIL, FAIL], schedule=(1,))
    harness.attempt(1)
    assert harness.attempt(2) is WebhookStatus.FAILED
    ((parked, _),) = harness.dlq.sent
    assert parked["jobId"] == "job_1" and parked["attempts"] == 2 and parked["lastStatusCode"] == 500
    job = harness.jobs.get("t1", "job_1")
    assert job is not None and job.webhook_status is WebhookStatus.FAILED


def test_blocked_destination_is_not_retried() -> None:
    harness = Harness(_job(), [DeliveryResult(None, "ssrf_blocked", "address 10.0.0.1 is private", 0)])
    assert harness.attempt(1) is WebhookStatus.FAILED
    assert harness.retries.sent == [] and harness.dlq.sent == []  # a redrive would be refused again
    assert harness.jobs.attempts_of("t1", "job_1")[0].error_class == "ssrf_blocked"


def test_a_duplicate_event_after_delivery_sends_nothing() -> None:
    harness = Harness(_job(), [OK])
    harness.attempt(1)
    assert harness.attempt(1) is WebhookStatus.DELIVERED
    assert len(harness.requests) == 1


@pytest.mark.parametrize("job", [_job(webhook=None), _job(status=JobStatus.PROCESSING)])
def test_nothing_to_deliver(job: Job) -> None:
    harness = Harness(job, [])
    assert harness.attempt(1) is None
    assert harness.requests == []


def test_failed_job_body_carries_the_error() -> None:
    job = _job(status=JobStatus.FAILED).model_copy(
        update={"error": "could not load", "image_key": None, "image_width": None, "image_height": None}
    )
    harness = Harness(job, [OK])
    harness.attempt(1)
    _, body, _ = harness.requests[0]
    assert body.startswith(b'{"jobId":"job_1","status":"failed","error":"could not load"')
    assert b"screenshotUrl" not in body


def test_every_attempt_records_its_class_the_response_and_when_the_next_comes() -> None:
    answer = DeliveryResult(500, "http_status", "receiver answered HTTP 500", 12, "database is down")
    harness = Harness(_job(), [answer])
    harness.attempt(1)
    (record,) = harness.jobs.attempts_of("t1", "job_1")
    dumped = record.to_json()
    assert dumped["errorClass"] == "http_status" and dumped["responseBody"] == "database is down"
    assert dumped["statusCode"] == 500 and dumped["durationMs"] == 12
    assert dumped["at"] == "1970-01-12T13:46:40.000Z" and dumped["nextAttemptAt"] == "1970-01-12T13:46:45.000Z"


def test_gone_stops_retrying_and_says_why() -> None:
    harness = Harness(_job(), [DeliveryResult(410, "http_status", "receiver answered HTTP 410", 3)])
    assert harness.attempt(1) is WebhookStatus.FAILED
    assert harness.retries.sent == [] and harness.dlq.sent == []
    assert "410 Gone" in (harness.jobs.attempts_of("t1", "job_1")[0].error or "")


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_lengthens_the_wait_but_not_beyond_a_day(status: int) -> None:
    harness = Harness(_job(), [DeliveryResult(status, "http_status", "busy", 3, retry_after_seconds=120)])
    harness.attempt(1)
    ((body, delay),) = harness.retries.sent
    assert delay == 120 and body["dueAt"] == harness.now + 120

    harness = Harness(_job(), [DeliveryResult(status, "http_status", "busy", 3, retry_after_seconds=10**7)])
    harness.attempt(1)
    ((body, delay),) = harness.retries.sent
    assert body["dueAt"] == harness.now + MAX_RETRY_AFTER_SECONDS and delay == 900


def test_a_short_retry_after_does_not_shorten_the_schedule() -> None:
    harness = Harness(_job(), [DeliveryResult(429, "http_status", "busy", 3, retry_after_seconds=1)], schedule=(300,))
    harness.attempt(1)
    ((body, _),) = harness.retries.sent
    assert body["dueAt"] == harness.now + 300


def test_jitter_spreads_waits_within_twenty_percent() -> None:
    waits = [jittered(100) for _ in range(2000)]
    assert 80 <= min(waits) < 83 and 117 < max(waits) <= 120
    assert jittered(100, rng=lambda: 0.0) == pytest.approx(80) and jittered(100, rng=lambda: 1.0) == pytest.approx(120)


def test_retry_after_is_read_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412420.0) == 60
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412540.0) == 0  # already past
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("") is None


def test_a_superseded_delivery_sends_nothing_more() -> None:
    harness = Harness(_job().model_copy(update={"delivery_number": 2}), [OK])
    assert harness.attempt(1) is None  # attempt 1 of delivery 1: a redelivery replaced it
    assert harness.requests == [] and harness.retries.sent == []


def test_a_duplicate_outcome_event_after_a_failed_first_attempt_sends_nothing() -> None:
    harness = Harness(_job(), [FAIL, OK])
    assert harness.attempt(1) is WebhookStatus.RETRYING
    assert harness.attempt(1) is WebhookStatus.RETRYING  # the event again: its first attempt was made
    assert len(harness.requests) == 1 and len(harness.retries.sent) == 1
    assert harness.attempt(2) is WebhookStatus.DELIVERED


def test_a_delivery_is_a_record_with_its_body_and_a_link_signed_at_each_attempt() -> None:
    harness = Harness(_job(), [FAIL, OK])
    ((key, record),) = harness.jobs.delivery_records.items()
    assert key == ("t1", "dlv#job_1#0001") and record.webhook_id == "msg_1" and record.link_field == "screenshotUrl"
    assert record.payload.startswith('{"jobId":"job_1","status":"completed","screenshotUrl":""')
    harness.attempt(1)
    harness.now += 5
    harness.attempt(2)
    first, second = (body for _, body, _ in harness.requests)
    assert b'"screenshotUrl":"https://images.test/t1/job_1.png?ttl=3600","url":' in second
    assert first == second  # the same body each time; only the link is signed again
    job = harness.jobs.get("t1", "job_1")
    assert job is not None and "webhook_attempts" not in type(job).model_fields  # the job does not grow


def test_each_stage_alone() -> None:
    harness = Harness(_job(), [])
    prepared = prepare(
        "t1",
        "job_1",
        1,
        1,
        jobs=harness.jobs,
        tenants=FakeTenants({"t1": Tenant(tenant_id="t1", name="t", webhook_secret=SECRET)}),
        retry_queue=harness.retries,
        clock=lambda: harness.now,
        jitter=harness.jitter,
        hosts=None,
        rule=harness.rule,
    )
    assert isinstance(prepared, Prepared) and prepared.target == "hooks.test:443"
    assert b"https://images.test/" in signed_body(prepared.record, FakeImages(), 60)
    status, recorded, wait = judge(FAIL, 3, harness.now, (5, 300, 3600), harness.jitter)
    assert (status, recorded.attempt, wait) == (WebhookStatus.RETRYING, 3, 3600)
    status, recorded, wait = judge(FAIL, 4, harness.now, (5, 300, 3600), harness.jitter)
    assert (status, wait) == (WebhookStatus.FAILED, None) and recorded.status_code == 500


def test_a_retry_of_a_delivery_never_recorded_opens_it_and_goes_on() -> None:
    """A retry in flight from before deliveries were records (or whose opening died) is not dropped."""
    harness = Harness(_job(), [OK])
    harness.jobs.delivery_records.clear()
    assert harness.attempt(3) is WebhookStatus.DELIVERED
    assert [a.attempt for a in harness.jobs.attempts_of("t1", "job_1")] == [3]
    stale = Harness(_job().model_copy(update={"delivery_number": 2}), [OK])
    stale.jobs.delivery_records.clear()
    assert stale.attempt(3) is None and stale.requests == []  # its delivery was superseded meanwhile
