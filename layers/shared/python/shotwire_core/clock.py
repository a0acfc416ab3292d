"""Time in the formats the API and webhooks use."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a `Z`, the form JavaScript's Date#toISOString prints."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utc_now())


def iso_from_epoch(seconds: float) -> str:
    """`iso` of a Unix time (what time.time() and the retry messages carry)."""
    return iso(datetime.fromtimestamp(seconds, UTC))
