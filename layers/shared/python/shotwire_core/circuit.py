"""A dead endpoint must not burn every delivery's attempts, nor hold up anyone else's.

Per destination (`host:port`), consecutive failures that say "the endpoint is not there" (DNS,
connect, TLS, timeout, HTTP 5xx and 429) are counted; any answer that is not one of those closes the
circuit again. After FAILURE_THRESHOLD in a row the circuit opens: deliveries to that destination are
*held* (re-queued for when the hold ends, their attempt not spent) instead of being tried. When the
hold ends, one delivery wins a probe lease and is tried; if it gets through, the circuit closes and the
held deliveries go out as they come due; if not, the hold doubles (1 min, 2 min, … at most 1 h).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from shotwire_core.adapters.webhook_http import DeliveryResult

FAILURE_THRESHOLD = 10
FIRST_HOLD_SECONDS = 60
MAX_HOLD_SECONDS = 3600
# How long a probe owns the destination; covers one attempt (15 s) with room to record it.
PROBE_LEASE_SECONDS = 30
_DOWN_ERRORS = frozenset({"dns", "connect", "tls", "timeout"})


@dataclass(frozen=True)
class HostHealth:
    failures: int = 0
    open_until: float = 0.0


class HostStates(Protocol):
    def get_host(self, destination: str) -> HostHealth: ...
    def add_host_failure(self, destination: str) -> int: ...
    def open_host(self, destination: str, until: float) -> None: ...
    def close_host(self, destination: str) -> None: ...
    def claim_probe(self, destination: str, now: float, lease_seconds: int) -> bool: ...


def destination(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def hold_seconds(failures: int) -> int:
    return min(MAX_HOLD_SECONDS, FIRST_HOLD_SECONDS * 2 ** max(0, failures - FAILURE_THRESHOLD))


def says_down(result: DeliveryResult) -> bool:
    """Whether an attempt's result counts against the destination (rather than against this delivery)."""
    if result.error_class in _DOWN_ERRORS:
        return True
    return result.status_code is not None and (result.status_code >= 500 or result.status_code == 429)


def hold_until(states: HostStates, target: str, now: float, health: HostHealth) -> float | None:
    """None: go ahead and send. A time: hold this delivery until then without spending an attempt."""
    if health.failures < FAILURE_THRESHOLD:
        return None
    if now < health.open_until:
        return health.open_until
    if states.claim_probe(target, now, PROBE_LEASE_SECONDS):
        return None  # this delivery is the probe
    return now + PROBE_LEASE_SECONDS  # another delivery is probing; look again after it


def record(states: HostStates, target: str, result: DeliveryResult, now: float, health: HostHealth) -> None:
    """Count the attempt against the destination, or reset it (a write only if there was a count)."""
    if not says_down(result):
        if health.failures:
            states.close_host(target)
        return
    failures = states.add_host_failure(target)
    if failures >= FAILURE_THRESHOLD:
        states.open_host(target, now + hold_seconds(failures))
