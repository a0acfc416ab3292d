"""Identifiers that sort by creation time, so a tenant's jobs list newest-first from a key query."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, index = divmod(value, 32)
        chars.append(_CROCKFORD[index])
    return "".join(reversed(chars))


def new_job_id(now_ms: int | None = None) -> str:
    """A ULID-style id: 48 bits of milliseconds then 80 random bits, lowercase Crockford base32."""
    millis = int(time.time() * 1000) if now_ms is None else now_ms
    return "job_" + _base32(millis, 10) + _base32(secrets.randbits(80), 16)


_JOB_ID = re.compile(r"job_[0-9a-hjkmnp-tv-z]{26}")


def is_job_id(value: str) -> bool:
    return _JOB_ID.fullmatch(value) is not None


BATCH_PREFIX = "bat_"


def new_batch_id(millis: int | None = None) -> str:
    return BATCH_PREFIX + new_job_id(millis).removeprefix("job_")


def is_batch_id(value: str) -> bool:
    return value.startswith(BATCH_PREFIX) and len(value) == len(BATCH_PREFIX) + 26 and value[4:].isalnum()


def new_api_key() -> str:
    """An API key with a recognisable prefix (so leaked keys are easy to scan for) and 192 random bits."""
    return "sw_live_" + secrets.token_urlsafe(24)


def new_tenant_id() -> str:
    return "ten_" + _base32(secrets.randbits(60), 12)


def new_key_id() -> str:
    """The public name of an API key (for listing and revoking); it reveals nothing of the key."""
    return "key_" + _base32(secrets.randbits(60), 12)


def key_hint(api_key: str) -> str:
    """Enough of a key for its owner to recognise it in a list: the prefix and the last four characters."""
    return f"{api_key[:8]}…{api_key[-4:]}"


def hash_api_key(api_key: str) -> str:
    """Keys are stored only as SHA-256: a stolen table does not yield usable keys."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def webhook_message_id(job_id: str, delivery: int = 1) -> str:
    """The Standard Webhooks `webhook-id`: stable for a delivery so every retry and duplicate carries the same
    one; a redelivery the user asked for is a new delivery with its own id."""
    base = "msg_" + job_id.removeprefix("job_")
    return base if delivery == 1 else f"{base}_{delivery}"
