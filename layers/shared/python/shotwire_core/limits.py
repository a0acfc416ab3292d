"""Per-tenant request rate and monthly capture quota (the tenant's `limits`), the same code locally and deployed.

Rate: GCRA, the token-bucket equivalent API Gateway's own throttling uses (`requestsPerSecond`
sustained, `burst` at once), kept as one "theoretical arrival time" per tenant and updated with a
conditional write. Quota: captures (jobs created) per calendar month (UTC), counted with an atomic
conditional add, so concurrent requests can never overshoot it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Protocol

from shotwire_core.models import TenantLimits


class RateLimitedError(Exception):
    """Over a limit: answer 429 with Retry-After."""

    def __init__(self, code: str, message: str, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.code = code
        self.retry_after_seconds = max(1, retry_after_seconds)


class LimitStore(Protocol):
    def rate_state(self, tenant_id: str) -> float | None: ...
    def replace_rate_state(self, tenant_id: str, expected: float | None, new: float) -> bool: ...
    def add_usage(self, tenant_id: str, month: str, count: int, quota: int) -> bool: ...


# Rounds of read-and-conditionally-write a request may lose to the tenant's other requests before a 429.
RATE_WRITE_ATTEMPTS = 25
RATE_RETRY_PAUSE_SECONDS = 0.02


def check_rate(tenant_id: str, limits: TenantLimits, store: LimitStore, clock: Callable[[], float] = time.time) -> None:
    """Let one request through, or raise RateLimitedError. A lost race (another request of the tenant wrote
    first) re-reads after a short random pause: each round lets one writer through, so a tenant with a
    dozen requests in flight needs a dozen rounds, not a 429."""
    interval = 1 / limits.requests_per_second
    tolerance = interval * (limits.burst - 1)
    for attempt in range(RATE_WRITE_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, RATE_RETRY_PAUSE_SECONDS))
        now = clock()
        arrival = store.rate_state(tenant_id)
        next_arrival = max(arrival or now, now) + interval
        wait = next_arrival - interval - tolerance - now
        if wait > 0:
            raise RateLimitedError(
                "rate_limited",
                f"over {limits.requests_per_second:g} requests/s (burst {limits.burst}); retry in {wait:.1f} s",
                math.ceil(wait),
            )
        if store.replace_rate_state(tenant_id, arrival, next_arrival):
            return
    raise RateLimitedError("rate_limited", "too many concurrent requests; retry shortly", 1)


def month_of(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m")


def seconds_to_next_month(now: float) -> int:
    moment = datetime.fromtimestamp(now, UTC)
    following = datetime(moment.year + moment.month // 12, moment.month % 12 + 1, 1, tzinfo=UTC)
    return math.ceil(following.timestamp() - now)


def reserve_captures(
    tenant_id: str, count: int, limits: TenantLimits, store: LimitStore, clock: Callable[[], float] = time.time
) -> None:
    """Count `count` new captures against this month's quota, or raise RateLimitedError (nothing counted)."""
    now = clock()
    if count > limits.monthly_quota or not store.add_usage(tenant_id, month_of(now), count, limits.monthly_quota):
        raise RateLimitedError(
            "quota_exceeded",
            f"this request needs {count} capture(s) but the monthly quota of {limits.monthly_quota} would be "
            f"exceeded; it resets at the start of next month (UTC)",
            seconds_to_next_month(now),
        )


def release_captures(tenant_id: str, count: int, store: LimitStore, clock: Callable[[], float] = time.time) -> None:
    """Give back a reservation whose request was then refused (nothing was created)."""
    store.add_usage(tenant_id, month_of(clock()), -count, 2**62)


@contextmanager
def captures_reserved(
    tenant_id: str, count: int, limits: TenantLimits, store: LimitStore, clock: Callable[[], float] = time.time
) -> Iterator[None]:
    """Hold `count` captures of the quota for the block; refused or failed, they are given back."""
    reserve_captures(tenant_id, count, limits, store, clock)
    try:
        yield
    except Exception:
        release_captures(tenant_id, count, store, clock)
        raise
