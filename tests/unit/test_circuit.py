"""The per-destination circuit: held deliveries keep their attempts; one probe; recovery drains the rest."""

from __future__ import annotations

from dataclasses import dataclass, field

from shotwire_core.adapters.webhook_http import DeliveryResult
from shotwire_core.circuit import (
    FAILURE_THRESHOLD,
    FIRST_HOLD_SECONDS,
    MAX_HOLD_SECONDS,
    HostHealth,
    destination,
    hold_seconds,
    hold_until,
    record,
    says_down,
)
from shotwire_core.models import WebhookStatus
from tests.unit.test_delivery import FAIL, OK, Harness, _job

DOWN = DeliveryResult(None, "connect", "could not connect", 2)


@dataclass
class FakeHosts:
    failures: dict[str, int] = field(default_factory=dict)
    opened: dict[str, float] = field(default_factory=dict)
    probes: dict[str, float] = field(default_factory=dict)

    def get_host(self, destination: str) -> HostHealth:
        return HostHealth(self.failures.get(destination, 0), self.opened.get(destination, 0.0))

    def add_host_failure(self, destination: str) -> int:
        self.failures[destination] = self.failures.get(destination, 0) + 1
        return self.failures[destination]

    def open_host(self, destination: str, until: float) -> None:
        self.opened[destination] = until

    def close_host(self, destination: str) -> None:
        self.failures.pop(destination, None)
        self.opened.pop(destination, None)
        self.probes.pop(destination, None)

    def claim_probe(self, destination: str, now: float, lease_seconds: int) -> bool:
        if self.probes.get(destination, 0.0) > now:
            return False
        self.probes[destination] = now + lease_seconds
        return True


def test_destinations_are_host_and_port() -> None:
    assert destination("https://Hooks.Example.com/a?b") == "hooks.example.com:443"
    assert destination("http://127.0.0.1:9000/hook") == "127.0.0.1:9000"


def test_only_signs_of_a_dead_endpoint_count() -> None:
    assert says_down(DOWN) and says_down(FAIL) and says_down(DeliveryResult(429, "http_status", "busy", 1))
    for answer in (OK, DeliveryResult(404, "http_status", "nope", 1), DeliveryResult(410, "http_status", "x", 1)):
        assert not says_down(answer)
    assert not says_down(DeliveryResult(None, "ssrf_blocked", "private", 0))


def test_the_circuit_opens_after_the_threshold_and_the_hold_doubles() -> None:
    hosts = FakeHosts()
    for n in range(FAILURE_THRESHOLD - 1):
        record(hosts, "h:443", DOWN, 1000.0, hosts.get_host("h:443"))
        assert hold_until(hosts, "h:443", 1000.0, hosts.get_host("h:443")) is None, n
    record(hosts, "h:443", DOWN, 1000.0, hosts.get_host("h:443"))
    assert hold_until(hosts, "h:443", 1000.0, hosts.get_host("h:443")) == 1000.0 + FIRST_HOLD_SECONDS
    assert hold_seconds(FAILURE_THRESHOLD + 1) == 2 * FIRST_HOLD_SECONDS
    assert hold_seconds(FAILURE_THRESHOLD + 20) == MAX_HOLD_SECONDS


def test_after_the_hold_one_probe_goes_and_its_success_closes_the_circuit() -> None:
    hosts = FakeHosts(failures={"h:443": FAILURE_THRESHOLD}, opened={"h:443": 1060.0})
    assert hold_until(hosts, "h:443", 1061.0, hosts.get_host("h:443")) is None  # the probe
    assert hold_until(hosts, "h:443", 1061.5, hosts.get_host("h:443")) == 1061.5 + 30  # others wait while it is out
    record(hosts, "h:443", OK, 1062.0, hosts.get_host("h:443"))
    assert (
        hold_until(hosts, "h:443", 1062.0, hosts.get_host("h:443")) is None and hosts.get_host("h:443") == HostHealth()
    )


def test_a_held_delivery_keeps_its_attempt_and_is_requeued_for_the_end_of_the_hold() -> None:
    hosts = FakeHosts(failures={"hooks.test:443": FAILURE_THRESHOLD}, opened={"hooks.test:443": 1_000_600.0})
    harness = Harness(_job(), [OK])
    status = deliver_with(harness, hosts, attempt=3)
    assert status is WebhookStatus.RETRYING and harness.requests == []  # nothing sent
    ((body, delay),) = harness.retries.sent
    assert body["attempt"] == 3 and body["dueAt"] == 1_000_600.0 and delay == 600
    job = harness.jobs.get("t1", "job_1")
    assert job is not None and job.webhook_attempts == []  # no attempt spent


def test_deliveries_record_the_destination_health() -> None:
    hosts = FakeHosts()
    harness = Harness(_job(), [FAIL])
    deliver_with(harness, hosts, attempt=1)
    assert hosts.failures == {"hooks.test:443": 1}
    harness = Harness(_job(), [OK])
    deliver_with(harness, hosts, attempt=1)
    assert hosts.failures == {}


def deliver_with(harness: Harness, hosts: FakeHosts, attempt: int) -> WebhookStatus | None:
    harness.hosts = hosts
    return harness.attempt(attempt)
