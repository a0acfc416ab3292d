"""Resume: what an earlier run into the same --out already did, so a re-run skips saved images and takes up its jobs."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shotwire.cli.batch.model import Outcome, Row, Task
from shotwire.cli.batch.report import Report, read_previous

__all__ = ["Plan", "plan"]


@dataclass
class Plan:
    tasks: list[Task] = field(default_factory=list)  # one per distinct file not saved yet, in input order
    first_of: dict[str, int] = field(default_factory=dict)  # casefolded file -> index of the first row writing it
    skipped: int = 0  # files an earlier run saved

    @property
    def resumed(self) -> int:
        return sum(1 for task in self.tasks if task.resume_job_id)


def plan(rows: list[Row], out_dir: Path, report: Report) -> Plan:
    """One task per distinct file; rows whose image an earlier run saved are skipped (and so reported)."""
    previous = read_previous(report.path)
    out_root = str(out_dir.resolve())
    result = Plan()
    for index, row in enumerate(rows):
        if row.file.casefold() in result.first_of:
            continue
        result.first_of[row.file.casefold()] = index
        target = out_dir / row.file
        before = previous.get(row.file.casefold(), {})
        if _saved_before(target, before, row):
            result.skipped += 1
            report.set(
                index,
                Outcome.of(
                    row,
                    status="skipped",
                    job_id=before.get("job_id"),
                    bytes=target.stat().st_size,
                    width=before.get("width"),
                    height=before.get("height"),
                ),
            )
            continue
        task = Task(row, resume_job_id=_earlier_job(before, row), out_root=out_root, index=index)
        if task.resume_job_id is None and _same_row(before, row) and isinstance(before.get("retry_of"), str):
            task.retry_of = before["retry_of"]
        result.tasks.append(task)
    return result


def _same_row(before: dict[str, Any], row: Row) -> bool:
    """Whether an earlier report line about this row's file was about this row: the same key (URL and
    options; a `file` now given to another URL or other options is another capture). A line of an earlier
    version, which has no key, is trusted when its URL is the same."""
    if "key" in before:
        return bool(before["key"] == row.key)
    return bool(before.get("url") == row.url)


def _saved_before(target: Path, before: dict[str, Any], row: Row) -> bool:
    """Skip the row: its image exists and an earlier run saved it for this very row. Without an earlier
    line (the report was deleted) the image alone counts, as it always has; names made from the URL and
    options (no `file`) carry the key anyway."""
    if not (target.is_file() and target.stat().st_size > 0):
        return False
    if not before:
        return True
    if "key" not in before:
        return _same_row(before, row)  # a report of an earlier version: the same URL
    return _same_row(before, row) and before.get("status") in ("completed", "skipped")


def _earlier_job(before: dict[str, Any], row: Row) -> str | None:
    """The job an earlier run had for this row (its report line), to finish instead of capturing again:
    whatever that line's status, the job itself says whether it can be used (not if it failed or is gone)."""
    job_id = before.get("job_id")
    if not isinstance(job_id, str) or not job_id or not _same_row(before, row):
        return None
    return job_id
