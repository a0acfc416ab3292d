"""Redriving the webhook DLQ: every kind of parked message is understood; what cannot be redriven stays."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from shotwire_core.errors import StaleJobError
from shotwire_core.models import Job
from shotwire_core.redrive import list_parked, parked_delivery, redrive


class FakeDlq:
    def __init__(self, bodies: list[str]) -> None:
        self.messages = {f"m{i}": body for i, body in enumerate(bodies)}
        self.hidden: set[str] = set()
        self.deleted: list[str] = []

    def receive(self, max_messages: int = 10, visibility_timeout: int = 60) -> list[tuple[str, str, str]]:
        visible = [(mid, mid, body) for mid, body in self.messages.items() if mid not in self.hidden]
        batch = visible[:max_messages]
        self.hidden.update(mid for mid, _, _ in batch)
        return batch

    def release(self, receipt_handle: str) -> None:
        self.hidden.discard(receipt_handle)

    def delete(self, receipt_handle: str) -> None:
        self.deleted.append(receipt_handle)
        del self.messages[receipt_handle]
        self.hidden.discard(receipt_handle)


class FakeJobs:
    def __init__(self, reopenable: set[str]) -> None:
        self.reopenable = reopenable

    def reopen_webhook(self, tenant_id: str, job_id: str, now: str) -> Job:
        if job_id not in self.reopenable:
            raise StaleJobError(f"job {job_id} was not in the expected state")
        return SimpleNamespace(delivery_number=1)  # type: ignore[return-value]


class Sent:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, body: dict[str, Any], delay_seconds: int = 0) -> None:
        self.sent.append(body)


OURS = json.dumps({"tenantId": "t", "jobId": "job_a", "attempts": 10})
RETRY = json.dumps({"tenantId": "t", "jobId": "job_b", "attempt": 4, "dueAt": 1.0})
EVENT = json.dumps({"detail-type": "screenshot.completed", "detail": {"tenantId": "t", "jobId": "job_c"}})


def test_each_kind_of_parked_message_names_its_job() -> None:
    assert parked_delivery(OURS) == ("t", "job_a")
    assert parked_delivery(RETRY) == ("t", "job_b")
    assert parked_delivery(EVENT) == ("t", "job_c")
    assert parked_delivery("not json") is None and parked_delivery("[1]") is None and parked_delivery("{}") is None


def test_redrive_queues_a_fresh_attempt_and_removes_only_what_it_redrove() -> None:
    dlq = FakeDlq([OURS, RETRY, EVENT, "garbage", json.dumps({"tenantId": "t", "jobId": "job_gone"})])
    retries = Sent()
    report = redrive(dlq=dlq, jobs=FakeJobs({"job_a", "job_b", "job_c"}), retry_queue=retries, clock=lambda: 50.0)
    assert report.redriven == ["job_a", "job_b", "job_c"]
    assert [why for _, why in report.skipped] == [
        "names no job",
        "job_gone: job job_gone was not in the expected state",
    ]
    assert retries.sent == [
        {"tenantId": "t", "jobId": job, "attempt": 1, "dueAt": 50.0, "delivery": 1}
        for job in ("job_a", "job_b", "job_c")
    ]
    assert sorted(dlq.messages.values()) == sorted(["garbage", json.dumps({"tenantId": "t", "jobId": "job_gone"})])
    assert dlq.hidden == set()  # what stays is visible again at once


def test_listing_leaves_everything_in_place_and_visible() -> None:
    dlq = FakeDlq([OURS] * 25)
    entries = list_parked(dlq)
    assert len(entries) == 25 and entries[0]["jobId"] == "job_a"
    assert len(dlq.messages) == 25 and dlq.hidden == set()
