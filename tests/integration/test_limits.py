"""Per-tenant rate limit and monthly quota through the API function on moto."""

from __future__ import annotations

import time
from types import ModuleType

import pytest

from shotwire_core.limits import seconds_to_next_month
from shotwire_core.models import TenantLimits
from shotwire_core.tenants import create_tenant
from tests.integration.conftest import Aws
from tests.integration.test_api import call


def tenant_key(aws_stack: Aws, limits: TenantLimits) -> str:
    _, issued = create_tenant(aws_stack.keys, "limited", limits)
    return issued.api_key


def test_requests_over_the_rate_get_429_with_retry_after(aws_stack: Aws, api_module: ModuleType) -> None:
    # One request per 5 s after a burst of 3: four calls cannot straddle a refill however slow the machine
    # is. The refill itself is timed exactly, on a fake clock, in tests/unit/test_rate_limit.py.
    key = tenant_key(aws_stack, TenantLimits(requests_per_second=0.2, burst=3, monthly_quota=100))
    answers = [call(api_module, "GET", "/v1/screenshots", key=key) for _ in range(4)]
    assert [status for status, _, _ in answers] == [200, 200, 200, 429]
    _, body, headers = answers[-1]
    assert body["error"]["code"] == "rate_limited" and int(headers["Retry-After"]) >= 1


def test_the_monthly_quota_counts_captures_and_refuses_the_one_too_many(aws_stack: Aws, api_module: ModuleType) -> None:
    key = tenant_key(aws_stack, TenantLimits(requests_per_second=100, burst=100, monthly_quota=3))
    status, _, _ = call(
        api_module, "POST", "/v1/batches", {"items": ["https://example.com/1", "https://example.com/2"]}, key=key
    )
    assert status == 202
    # A refused request and an idempotent replay count nothing.
    refused = {"url": "https://example.com/", "webhookUrl": "https://user:pw@example.com/hook"}
    assert call(api_module, "POST", "/v1/screenshots", refused, key=key)[0] == 422
    headers = {"Idempotency-Key": "once"}
    assert (
        call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/3"}, key=key, headers=headers)[0]
        == 202
    )
    assert (
        call(api_module, "POST", "/v1/screenshots", {"url": "https://example.com/3"}, key=key, headers=headers)[0]
        == 202
    )

    status, body, response_headers = call(api_module, "POST", "/v1/capture", {"url": "https://example.com/4"}, key=key)
    assert status == 429 and body["error"]["code"] == "quota_exceeded", body
    assert abs(int(response_headers["Retry-After"]) - seconds_to_next_month(time.time())) < 5
    assert call(api_module, "GET", "/v1/screenshots", key=key)[0] == 200  # reads are not captures


def test_a_batch_larger_than_what_is_left_is_refused_whole(aws_stack: Aws, api_module: ModuleType) -> None:
    key = tenant_key(aws_stack, TenantLimits(requests_per_second=100, burst=100, monthly_quota=5))
    items = [f"https://example.com/{n}" for n in range(6)]
    status, body, _ = call(api_module, "POST", "/v1/batches", {"items": items}, key=key)
    assert status == 429 and body["error"]["code"] == "quota_exceeded"
    _, listed, _ = call(api_module, "GET", "/v1/screenshots", key=key)
    assert listed["data"] == []
    assert call(api_module, "POST", "/v1/batches", {"items": items[:5]}, key=key)[0] == 202


@pytest.mark.parametrize(
    ("now", "expected"),
    [(1_795_000_000.0, 1_796_083_200 - 1_795_000_000), (1_798_761_599.0, 1)],  # mid-November; 2026-12-31 23:59:59
)
def test_the_quota_resets_at_the_start_of_the_next_utc_month(now: float, expected: int) -> None:
    assert seconds_to_next_month(now) == expected
