"""The port webhook logic sends through: one signed POST in, what the receiver did out.

Delivery, the circuit breaker and the webhook test are written against it; adapters/webhook_http.py implements
it (and the tests' fakes do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class DeliveryResult:
    status_code: int | None
    error_class: str | None  # dns, connect, tls, timeout, ssrf_blocked, http_status
    error: str | None
    duration_ms: int
    response_excerpt: str = ""
    retry_after_seconds: int | None = None  # from a 429/503's Retry-After header

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# url, body, signed headers -> what happened.
WebhookSender = Callable[[str, bytes, dict[str, str]], DeliveryResult]
