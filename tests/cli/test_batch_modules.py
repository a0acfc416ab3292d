"""The modules `shotwire.cli.batch` is split into, each on its own: the report line's shape, a task's
identity, the resume plan, the report's in-flight and duplicate lines, and the summary's counts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import shotwire.cli.batch as batch
from shotwire.cli.batch.display import finish
from shotwire.cli.batch.files import REPORT_NAME
from shotwire.cli.batch.inputs import parse_rows
from shotwire.cli.batch.model import Outcome, Row, Task
from shotwire.cli.batch.report import Report, fill_duplicates, read_previous, record_in_flight
from shotwire.cli.batch.resume import plan
from shotwire.cli.output import ExitCode, State


def test_the_package_still_exports_what_was_imported_from_the_module() -> None:
    for name in ("REPORT_NAME", "InputError", "Outcome", "Row", "detect_format", "parse_rows", "run_batch"):
        assert hasattr(batch, name), name
    for name in ("ImageUnavailable", "SerialApi", "Task", "check_inside", "remove_leftovers"):
        assert hasattr(batch, name), name


def test_a_report_line_keeps_its_field_order_and_adds_optional_fields_only_when_set() -> None:
    row = Row(3, "https://a.example/", {"width": 320}, "a.png")
    line = Outcome.of(row, status="completed", job_id="job_1", bytes=10)
    assert list(line.as_json()) == [
        "line", "url", "status", "job_id", "file", "bytes", "width", "height", "error", "seconds", "key",
    ]  # fmt: skip
    assert (line.line, line.file, line.key) == (3, "a.png", row.key)
    marked = Outcome.of(row, duplicate_of=1, retry_of="job_0")
    assert list(marked.as_json())[-2:] == ["duplicate_of", "retry_of"]


def test_a_tasks_job_and_time() -> None:
    task = Task(Row(1, "https://a.example/", {}))
    assert task.known_job_id is None and task.elapsed() is None
    task.resume_job_id = "job_old"
    assert task.known_job_id == "job_old"
    task.job_id, task.started = "job_new", 0.0
    assert task.known_job_id == "job_new" and isinstance(task.elapsed(), float)


def _rows(text: str) -> list[Row]:
    return parse_rows(text, "csv", {})


def test_the_plan_skips_saved_images_resumes_jobs_and_keeps_a_retry(tmp_path: Path) -> None:
    rows = _rows("url,file\nhttps://a.example/,a\nhttps://b.example/,b\nhttps://c.example/,c\nhttps://a.example/,a\n")
    (tmp_path / "a.png").write_bytes(b"image")
    earlier = [
        {"file": "a.png", "url": "https://a.example/", "status": "completed", "job_id": "job_a", "key": rows[0].key},
        {"file": "b.png", "url": "https://b.example/", "status": "interrupted", "job_id": "job_b", "key": rows[1].key},
        {"file": "c.png", "url": "https://c.example/", "status": "failed", "retry_of": "job_c", "key": rows[2].key},
    ]
    (tmp_path / REPORT_NAME).write_text("".join(json.dumps(line) + "\n" for line in earlier) + "not json\n")
    assert set(read_previous(tmp_path / REPORT_NAME)) == {"a.png", "b.png", "c.png"}
    report = Report(tmp_path / REPORT_NAME, rows)

    todo = plan(rows, tmp_path, report)
    assert todo.skipped == 1 and todo.first_of == {"a.png": 0, "b.png": 1, "c.png": 2}
    assert [(t.index, t.resume_job_id, t.retry_of) for t in todo.tasks] == [(1, "job_b", None), (2, None, "job_c")]
    assert todo.resumed == 1
    assert report.outcomes[0].status == "skipped" and report.outcomes[0].bytes == 5

    record_in_flight(report, todo.tasks, final=True)
    fill_duplicates(report, todo.first_of)
    assert [(o.status, o.job_id, o.retry_of, o.duplicate_of) for o in report.lines()] == [
        ("skipped", "job_a", None, None),
        ("interrupted", "job_b", None, None),
        ("pending", None, "job_c", None),
        ("skipped", "job_a", None, 2),
    ]


@pytest.mark.parametrize(
    ("statuses", "interrupted", "code"),
    [
        (["completed", "skipped"], False, ExitCode.OK),
        (["completed", "incomplete"], False, ExitCode.FAILED),
        (["completed", "interrupted"], True, ExitCode.INTERRUPTED),
    ],
)
def test_the_summary_counts_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], statuses: list[str], interrupted: bool, code: ExitCode
) -> None:
    rows = [Row(n, f"https://{n}.example/", {}, f"{n}.png") for n in range(len(statuses))]
    report = Report(tmp_path / REPORT_NAME, rows)
    for index, status in enumerate(statuses):
        report.set(index, Outcome.of(rows[index], status=status))
    assert finish(State(json=True), report, tmp_path, 1.0, interrupted, None) == code
    summary = json.loads(capsys.readouterr().out)
    assert summary["total"] == len(statuses)
    assert summary["failed"] == statuses.count("failed") + statuses.count("incomplete")
    assert summary["stopped"] == ("interrupted" if interrupted else None)
