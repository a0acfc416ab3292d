"""A dead or slow endpoint must not burn every delivery's attempts, nor hold up anyone else's.

Two rules per destination (`host:port`), both kept in the destination's health record:

*In-flight bound.* At most `max_in_flight` attempts to one destination are out at once. An attempt
takes a numbered slot with a lease (one attempt's timeout plus room to record it, so a crashed
dispatcher's slot frees itself); a delivery that finds every slot taken waits a few seconds without
spending its attempt. A destination that hangs for the full timeout therefore ties up at most
`max_in_flight` dispatchers, and every other tenant's deliveries keep flowing.

*Circuit breaker.*

Per destination (`host:port`), consecutive failures that say "the endpoint is not there" (DNS,
connect, TLS, timeout, HTTP 5xx and 429) are counted; any answer that is not one of those closes the
circuit again. After FAILURE_THRESHOLD in a row the circuit opens: deliveries to that destination are
*held* (re-queued for when the hold ends, their attempt not spent) instead of being tried. When the
hold ends, one delivery wins a probe lease and is tried; if it gets through, the circuit closes and the
held deliveries go out as they come due; if not, the hold doubles (1 min, 2 min, … at most 1 h).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from shotwire_core.config import StackConfig
from shotwire_core.sending import DeliveryResult

_DEFAULTS = StackConfig()
FAILURE_THRESHOLD = _DEFAULTS.webhook_circuit_failure_threshold
FIRST_HOLD_SECONDS = _DEFAULTS.webhook_circuit_hold_seconds
MAX_HOLD_SECONDS = 3600
MAX_IN_FLIGHT = _DEFAULTS.webhook_max_in_flight_per_destination
# How long a probe owns the destination; covers one attempt (15 s) with room to record it.
PROBE_LEASE_SECONDS = 30
_DOWN_ERRORS = frozenset({"dns", "connect", "tls", "timeout"})
# A slot is held for one attempt (15 s at most) plus room to release it; a crash frees it after this.
SLOT_LEASE_SECONDS = 30
# A delivery that finds every slot taken looks again after about this long (jittered by the caller).
SLOTS_FULL_WAIT_SECONDS = 2
# Slots tried per delivery before giving up for now: contention means the destination is busy anyway.
SLOT_CLAIM_TRIES = 3


@dataclass(frozen=True)
class DestinationRule:
    """The numbers of both rules (settings can shorten them, e.g. for tests)."""

    failure_threshold: int = FAILURE_THRESHOLD
    first_hold_seconds: int = FIRST_HOLD_SECONDS
    max_hold_seconds: int = MAX_HOLD_SECONDS
    max_in_flight: int = MAX_IN_FLIGHT


DEFAULT_RULE = DestinationRule()


@dataclass(frozen=True)
class HostHealth:
    failures: int = 0
    open_until: float = 0.0
    # slot number -> lease expiry (epoch seconds) of the attempts out to this destination
    slot_leases: Mapping[int, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SlotLease:
    """A claimed in-flight slot; `expires` doubles as the token that lets only its owner release it."""

    index: int
    expires: float


class HostStates(Protocol):
    def get_host(self, destination: str) -> HostHealth: ...
    def add_host_failure(self, destination: str) -> int: ...
    def open_host(self, destination: str, until: float) -> None: ...
    def close_host(self, destination: str) -> None: ...
    def claim_probe(self, destination: str, now: float, lease_seconds: int) -> bool: ...
    def claim_slot(self, destination: str, index: int, now: float, expires: float) -> bool: ...
    def release_slot(self, destination: str, lease: SlotLease) -> None: ...


def destination(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def hold_seconds(failures: int, rule: DestinationRule = DEFAULT_RULE) -> int:
    return min(rule.max_hold_seconds, rule.first_hold_seconds * 2 ** max(0, failures - rule.failure_threshold))


def says_down(result: DeliveryResult) -> bool:
    """Whether an attempt's result counts against the destination (rather than against this delivery)."""
    if result.error_class in _DOWN_ERRORS:
        return True
    return result.status_code is not None and (result.status_code >= 500 or result.status_code == 429)


def hold_until(
    states: HostStates, target: str, now: float, health: HostHealth, rule: DestinationRule = DEFAULT_RULE
) -> float | None:
    """None: go ahead and send. A time: hold this delivery until then without spending an attempt."""
    if health.failures < rule.failure_threshold:
        return None
    if now < health.open_until:
        return health.open_until
    if states.claim_probe(target, now, PROBE_LEASE_SECONDS):
        return None  # this delivery is the probe
    # Another delivery is probing: look again when it has had time to answer (sooner when holds are short,
    # so a recovered destination's backlog drains within seconds of the probe).
    return now + min(PROBE_LEASE_SECONDS, rule.first_hold_seconds)


def record(
    states: HostStates,
    target: str,
    result: DeliveryResult,
    now: float,
    health: HostHealth,
    rule: DestinationRule = DEFAULT_RULE,
) -> None:
    """Count the attempt against the destination, or reset it (a write only if there was a count)."""
    if not says_down(result):
        if health.failures:
            states.close_host(target)
        return
    failures = states.add_host_failure(target)
    if failures >= rule.failure_threshold:
        states.open_host(target, now + hold_seconds(failures, rule))


def claim_slot(
    states: HostStates,
    target: str,
    now: float,
    health: HostHealth,
    rule: DestinationRule = DEFAULT_RULE,
    shuffle: Callable[[list[int]], None] = random.shuffle,
) -> SlotLease | None:
    """Take one of the destination's in-flight slots, or None when they are all out."""
    free = [index for index in range(rule.max_in_flight) if health.slot_leases.get(index, 0.0) <= now]
    shuffle(free)  # concurrent claimers spread over the free slots instead of racing for the first
    expires = now + SLOT_LEASE_SECONDS
    for index in free[:SLOT_CLAIM_TRIES]:
        if states.claim_slot(target, index, now, expires):
            return SlotLease(index, expires)
    return None
