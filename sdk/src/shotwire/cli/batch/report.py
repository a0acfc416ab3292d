"""report.jsonl: one line per input row, kept current while the batch runs, and read back by the next run."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from shotwire.cli.batch.model import IN_FLIGHT, Outcome, Row, Task
from shotwire.client import write_atomically

__all__ = ["Report", "fill_duplicates", "read_previous", "record_in_flight"]


class Report:
    def __init__(self, path: Path, rows: list[Row]) -> None:
        self.path = path
        self.rows = rows
        self.outcomes: dict[int, Outcome] = {}  # by row index
        self.written_at = 0.0

    def set(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome

    def lines(self) -> list[Outcome]:
        return [self.outcomes.get(index) or Outcome.of(row) for index, row in enumerate(self.rows)]

    def write(self) -> None:
        text = "".join(json.dumps(o.as_json(), ensure_ascii=False) + "\n" for o in self.lines())
        write_atomically(self.path, text.encode("utf-8"))
        self.written_at = time.monotonic()


def read_previous(path: Path) -> dict[str, dict[str, Any]]:
    """file (casefolded) -> last report line about it, from an earlier run into the same --out."""
    found: dict[str, dict[str, Any]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return found
    for line in text.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and record.get("file"):
            found[str(record["file"]).casefold()] = record
    return found


def record_in_flight(report: Report, tasks: list[Task], *, final: bool = False) -> None:
    """Rows submitted but not finished get their job id in the report (status `interrupted` at the end,
    `processing` meanwhile), so a re-run picks their jobs up instead of capturing again. A row with no job
    yet that replaces an earlier one stays `pending` with `retry_of`, which its Idempotency-Key is made of."""
    for task in tasks:
        existing = report.outcomes.get(task.index)
        if existing is not None and existing.status not in (*IN_FLIGHT, "pending"):
            continue
        if task.known_job_id is not None:
            status = "interrupted" if final else "processing"
            report.set(task.index, Outcome.of(task.row, status=status, job_id=task.known_job_id))
        elif task.retry_of is not None:
            report.set(task.index, Outcome.of(task.row, retry_of=task.retry_of))


def fill_duplicates(report: Report, first_of: dict[str, int]) -> None:
    """Each row that repeats an earlier one (the same file) gets that row's line, with `duplicate_of`."""
    rows = report.rows
    for index, row in enumerate(rows):
        first = first_of[row.file.casefold()]
        if first == index:
            continue
        original = report.outcomes.get(first) or Outcome.of(rows[first])
        copy = dataclasses.replace(original, line=row.line, url=row.url, duplicate_of=rows[first].line)
        report.set(index, copy)
