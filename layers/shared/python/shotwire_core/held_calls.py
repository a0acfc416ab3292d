"""Calls that hold an API function for seconds, a webhook test (up to the 15 s webhook deadline) and a
synchronous wait (up to 25 s), are bounded per tenant. Without the bound one tenant firing them could occupy
every API execution environment (locally) or, deployed, the account concurrency that captures need too,
and everyone else's requests would queue behind it.

The bound reuses the in-flight slots of shotwire_core.circuit: numbered slots with a lease, kept in the
host-health partition under a key no destination can have, so a crashed function's slot frees itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from shotwire_core.circuit import SLOT_LEASE_SECONDS, DestinationRule, HostStates, claim_slot

# Held calls one tenant may have at once; past it a wait is skipped (202 at once) and a test refused (429).
HELD_CALLS_PER_TENANT = 2
# Retry-After of a refused webhook test: by then one of the held calls has ended (the webhook deadline).
RETRY_AFTER_SECONDS = 15
assert SLOT_LEASE_SECONDS > 29, "a slot must outlive the API function's longest run (29 s)"


def _key(tenant_id: str) -> str:
    # Destinations are host:port; a slash never appears in one.
    return f"held-calls/{tenant_id}"


@contextmanager
def held_call(
    tenant_id: str,
    states: HostStates,
    *,
    limit: int = HELD_CALLS_PER_TENANT,
    clock: Callable[[], float] = time.time,
) -> Iterator[bool]:
    """Yields whether the tenant may hold the function now; the slot (if any) is given back after the block."""
    key = _key(tenant_id)
    now = clock()
    lease = claim_slot(states, key, now, states.get_host(key), DestinationRule(max_in_flight=limit))
    try:
        yield lease is not None
    finally:
        if lease is not None:
            states.release_slot(key, lease)
