"""`shotwire batch` from start to end: read and check the input, plan the resume, run, write the report, sum up."""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath
from typing import Any

from shotwire.cli.batch.api import Shared
from shotwire.cli.batch.display import announce, finish, progress
from shotwire.cli.batch.engine import run_tasks
from shotwire.cli.batch.files import REPORT_NAME, check_inside, remove_leftovers
from shotwire.cli.batch.inputs import detect_format, parse_rows, read_source, validate
from shotwire.cli.batch.model import InputError
from shotwire.cli.batch.report import Report, fill_duplicates, record_in_flight
from shotwire.cli.batch.resume import plan
from shotwire.cli.batch.signals import no_interrupts
from shotwire.cli.common import make_client, sigterm_as_interrupt
from shotwire.cli.output import ExitCode, State, fail

__all__ = ["run_batch"]


def run_batch(
    state: State,
    *,
    source: str,
    out_dir: Path | None,
    concurrency: int,
    timeout: float,
    input_format: str,
    defaults: dict[str, Any],
) -> int:
    text, name = read_source(source)
    try:
        rows = parse_rows(text, detect_format(text, name, input_format), defaults)
        if not rows:
            raise InputError(f"no URLs in {name}")
        validate(rows)
    except InputError as error:
        fail(str(error), ExitCode.USAGE)
    if out_dir is None:
        out_dir = Path(f"{PurePosixPath(name).stem or 'batch'}-screenshots")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        check_inside(out_dir, rows)
    except InputError as error:
        fail(str(error), ExitCode.USAGE)
    remove_leftovers(out_dir, rows)
    report = Report(out_dir / REPORT_NAME, rows)
    todo = plan(rows, out_dir, report)

    shared = Shared()
    started = time.monotonic()
    interrupted = False
    announce(state, len(rows), todo, out_dir, concurrency)
    try:
        with (
            sigterm_as_interrupt(),
            make_client(state) as client,
            progress(state, len(todo.tasks), todo.skipped) as on_outcome,
        ):
            interrupted = run_tasks(
                client,
                todo.tasks,
                report,
                out_dir,
                concurrency=concurrency,
                timeout=timeout,
                shared=shared,
                on_outcome=on_outcome,
            )
    except KeyboardInterrupt:
        interrupted = True
        shared.stop.set()
        record_in_flight(report, todo.tasks, final=True)
    fill_duplicates(report, todo.first_of)
    with no_interrupts():
        report.write()
    return finish(state, report, out_dir, time.monotonic() - started, interrupted, shared.fatal)
