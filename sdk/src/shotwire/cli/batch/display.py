"""What a person or a script sees of a batch: the plan, progress (or a line per row), the summary and exit code."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from shotwire.cli.batch.model import FAILED, INCOMPLETE, STATUSES, Outcome
from shotwire.cli.batch.report import Report
from shotwire.cli.batch.resume import Plan
from shotwire.cli.errors import report as report_error
from shotwire.cli.jobs import STATUS_STYLES
from shotwire.cli.output import ExitCode, State, err, out, print_json

__all__ = ["announce", "finish", "progress"]


def announce(state: State, total: int, plan: Plan, out_dir: Path, concurrency: int) -> None:
    """The line before the run: how many rows, how many to capture, skip and resume."""
    if state.json:
        return
    resumed = plan.resumed
    note = f", resuming {resumed} job(s) of an earlier run" if resumed else ""
    err.print(
        f"{total} rows: {len(plan.tasks)} to capture, {plan.skipped} already in {out_dir}/{note}; "
        f"concurrency {concurrency}"
    )


@contextmanager
def progress(state: State, total: int, skipped: int) -> Iterator[Callable[[Outcome, int], None]]:
    """A progress bar on a terminal (else a line per finished row, unless --json); yields what to call with
    each outcome and how many rows have finished."""
    counts = {"completed": 0, "failed": 0}
    with _bar() as bar:
        task = bar.add_task(
            "capturing", total=total, done=0, failed=0, extra=f" [blue]{skipped} skipped[/]" if skipped else ""
        )

        def advance(outcome: Outcome, finished: int) -> None:
            counts["failed" if outcome.status in FAILED else "completed"] += 1
            bar.update(task, advance=1, done=counts["completed"], failed=counts["failed"])
            if not err.is_terminal and not state.json:
                _log_line(outcome, finished, total)

        yield advance


def _bar() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("[green]{task.fields[done]} done[/] [red]{task.fields[failed]} failed[/]{task.fields[extra]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    )


def _log_line(outcome: Outcome, finished: int, total: int) -> None:
    width = len(str(total))
    if outcome.status == "completed":
        err.print(f"[{finished:>{width}}/{total}] [green]✓[/] {escape(str(outcome.file))} ({outcome.seconds} s)")
    else:
        err.print(f"[{finished:>{width}}/{total}] [red]✗[/] {escape(outcome.url)}: {escape(str(outcome.error))}")


def finish(
    state: State, report: Report, out_dir: Path, seconds: float, interrupted: bool, fatal: BaseException | None
) -> int:
    """Print the summary (a table, or one JSON document) and what to do next; return the exit code."""
    lines = report.lines()
    tally = dict.fromkeys(STATUSES, 0)
    for outcome in lines:
        tally[outcome.status if outcome.status in tally else "pending"] += 1
    tally["failed"] += tally[INCOMPLETE]  # incomplete rows failed too (this run); `incomplete` says how many
    failures = [o for o in lines if o.status in FAILED and o.duplicate_of is None]
    if state.json:
        print_json(
            {
                "total": len(lines),
                **tally,
                "seconds": round(seconds, 3),
                "out": str(out_dir),
                "report": str(report.path),
                "stopped": "interrupted" if interrupted else ("error" if fatal is not None else None),
                "failures": [o.as_json() for o in failures],
            }
        )
    else:
        _summary_table(tally, len(lines), seconds, out_dir, report.path, failures)
    if fatal is not None:
        code = report_error(fatal, state)
        err.print("[dim]re-run the same command to resume[/]")
        return int(code)
    if interrupted:
        err.print("[yellow]interrupted[/]: re-run the same command to resume (finished images are kept)")
        return int(ExitCode.INTERRUPTED)
    if tally[INCOMPLETE] and not state.json:
        err.print(
            f"[dim]{tally[INCOMPLETE]} row(s) incomplete: their jobs had not failed; "
            "re-run the same command to wait for them and save their images[/]"
        )
    return int(ExitCode.FAILED) if failures else int(ExitCode.OK)


def _summary_table(
    tally: dict[str, int], total: int, seconds: float, out_dir: Path, report_path: Path, failures: list[Outcome]
) -> None:
    table = Table(title="batch summary", show_header=False, title_justify="left", box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    for status in ("completed", "skipped", "failed", "interrupted", "pending"):
        if tally[status] or status in ("completed", "failed"):
            table.add_row(f"[{STATUS_STYLES[status]}]{status}[/]", str(tally[status]))
        if status == "failed" and tally[INCOMPLETE]:
            table.add_row("[dim]  of which incomplete[/]", f"[dim]{tally[INCOMPLETE]}[/]")
    table.add_row("total", str(total))
    made = tally["completed"]
    rate = f"  ({made / seconds:.1f}/s)" if made and seconds > 0 else ""
    table.add_row("time", f"{seconds:.1f} s{rate}")
    out.print(table)
    out.print(f"images in [bold]{escape(str(out_dir))}/[/], report [bold]{escape(str(report_path))}[/]")
    if failures:
        failed = Table(title=f"failed ({len(failures)})", title_justify="left", box=None, header_style="bold")
        failed.add_column("line", justify="right")
        failed.add_column("url", overflow="fold")
        failed.add_column("error", overflow="fold")
        for outcome in failures[:20]:
            failed.add_row(str(outcome.line), escape(outcome.url), f"[red]{escape(str(outcome.error))}[/]")
        out.print(failed)
        if len(failures) > 20:
            out.print(f"[dim]... {len(failures) - 20} more in the report[/]")
