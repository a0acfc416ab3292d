"""What every batch module shares, defined once: an input row and its identity, its task, its report line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

__all__ = ["FAILED", "INCOMPLETE", "IN_FLIGHT", "STATUSES", "InputError", "Outcome", "Row", "Task"]

IN_FLIGHT = ("submitted", "queued", "processing", "interrupted")
# A job exists and had not failed, but its image was not saved (not finished within --timeout, or the
# download or the write failed): a failure of this run, which the next run resumes with the same job.
INCOMPLETE = "incomplete"
FAILED = ("failed", INCOMPLETE)  # what counts as a failed row (exit code 1, the summary's `failed`)
STATUSES = ("completed", "skipped", "failed", INCOMPLETE, "interrupted", "pending")  # the summary's counts


class InputError(ValueError):
    """The input file cannot be used; nothing was submitted."""


@dataclass
class Row:
    line: int  # 1-based line (text/JSONL) or record line (CSV) of the input
    url: str
    options: dict[str, Any]  # snake_case, the command line's defaults merged under the row's own
    file: str = ""  # relative to --out

    def as_json(self, *, sort_keys: bool) -> str:
        """The URL and options as compact JSON: sorted, the row's identity; unsorted, the body as sent."""
        return json.dumps({"url": self.url, **self.options}, sort_keys=sort_keys, separators=(",", ":"), default=str)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.as_json(sort_keys=True).encode()).hexdigest()[:10]


@dataclass
class Task:
    """One distinct image to make (rows with the same URL and options share it)."""

    row: Row
    resume_job_id: str | None = None
    job_id: str | None = None
    started: float | None = None
    retry_of: str | None = None  # an earlier job not to reuse (failed, gone, or its image expired)
    out_root: str = ""  # the resolved --out: with the row and retry_of, what the Idempotency-Key is made of
    index: int = 0  # the row's place in the input, i.e. which report line the task's outcome is

    @property
    def idempotency_key(self) -> str:
        """The same on every run for the same --out, row and earlier job: a re-run that submits a row whose
        job id never reached the report (killed, or stopped while the submit was in flight) gets that job
        back from the API (within its 24 h) instead of a second one. A row whose earlier job failed, is gone
        or whose image expired (`retry_of`) gets a new key, so it really is captured again. The row's exact
        JSON is in it too: the API refuses a key reused with another body (objects with their keys in
        another order), while Row.key sorts them."""
        text = "\n".join((self.out_root, self.row.key, self.row.as_json(sort_keys=False), self.retry_of or ""))
        return "batch-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]

    @property
    def known_job_id(self) -> str | None:
        """The task's job: submitted by this run, or an earlier run's that it takes up."""
        return self.job_id or self.resume_job_id

    def elapsed(self) -> float | None:
        """Seconds since the task started (rounded for the report), None if it never did."""
        return None if self.started is None else round(time.monotonic() - self.started, 3)


@dataclass
class Outcome:
    """One line of report.jsonl."""

    line: int
    url: str
    status: str = "pending"  # completed, failed, incomplete, skipped, interrupted, pending
    job_id: str | None = None
    file: str | None = None
    bytes: int | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None
    seconds: float | None = None
    key: str | None = None  # the row's identity (Row.key): an earlier line counts only for the same key
    duplicate_of: int | None = None
    retry_of: str | None = None  # no job yet; the earlier job it replaces (failed, gone or expired)

    @classmethod
    def of(cls, row: Row, **fields: Any) -> Outcome:
        """A line about `row` (its line, URL, file and key), with `fields`."""
        return cls(row.line, row.url, file=row.file, key=row.key, **fields)

    def as_json(self) -> dict[str, Any]:
        """The line's fields in order; `duplicate_of` and `retry_of` only when set."""
        data = dataclasses.asdict(self)
        for optional in ("duplicate_of", "retry_of"):
            if data[optional] is None:
                del data[optional]
        return data
