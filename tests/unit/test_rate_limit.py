"""GCRA rate limiting on a fake clock and an in-memory store (our own port): exact, with no timing slack."""

from __future__ import annotations

import pytest

from shotwire_core.limits import RateLimitedError, check_rate
from shotwire_core.models import TenantLimits


class MemoryStore:
    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}

    def rate_state(self, tenant_id: str) -> float | None:
        return self.arrivals.get(tenant_id)

    def replace_rate_state(self, tenant_id: str, expected: float | None, new: float) -> bool:
        if self.arrivals.get(tenant_id) != expected:
            return False
        self.arrivals[tenant_id] = new
        return True

    def add_usage(self, tenant_id: str, month: str, count: int, quota: int) -> bool:
        raise NotImplementedError


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


LIMITS = TenantLimits(requests_per_second=2, burst=3, monthly_quota=100)


def allowed(store: MemoryStore, clock: Clock, tenant: str = "t") -> bool:
    try:
        check_rate(tenant, LIMITS, store, clock)
    except RateLimitedError:
        return False
    return True


def test_a_burst_passes_then_the_next_request_is_refused_with_retry_after() -> None:
    store, clock = MemoryStore(), Clock()
    assert [allowed(store, clock) for _ in range(3)] == [True, True, True]
    with pytest.raises(RateLimitedError) as refused:
        check_rate("t", LIMITS, store, clock)
    assert refused.value.code == "rate_limited" and refused.value.retry_after_seconds == 1


def test_one_interval_later_exactly_one_more_request_passes() -> None:
    store, clock = MemoryStore(), Clock()
    for _ in range(3):
        allowed(store, clock)
    clock.now += 0.49
    assert not allowed(store, clock)  # half a second buys one request at 2/s; not yet
    clock.now += 0.02
    assert allowed(store, clock)
    assert not allowed(store, clock)


def test_an_idle_tenant_gets_its_whole_burst_back_and_tenants_do_not_share() -> None:
    store, clock = MemoryStore(), Clock()
    for _ in range(3):
        allowed(store, clock)
    assert allowed(store, clock, tenant="other")
    clock.now += 10
    assert [allowed(store, clock) for _ in range(4)] == [True, True, True, False]
