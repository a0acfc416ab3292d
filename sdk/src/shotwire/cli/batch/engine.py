"""The concurrent part: --concurrency workers that submit (or take up), wait for and save each task's image."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeAlias

from shotwire import APIError
from shotwire.cli.batch.api import ImageUnavailable, SerialApi, Shared, Stopped, is_fatal
from shotwire.cli.batch.model import INCOMPLETE, Outcome, Task
from shotwire.cli.batch.report import Report, record_in_flight
from shotwire.cli.batch.watcher import Watcher
from shotwire.cli.jobs import job_error
from shotwire.client import write_atomically

__all__ = ["run_tasks"]

REPORT_EVERY = 2.0  # seconds between rewrites of report.jsonl while the batch runs
Results: TypeAlias = queue.Queue[tuple[Task, Outcome | None]]


def run_tasks(
    client: Any,
    tasks: list[Task],
    report: Report,
    out_dir: Path,
    *,
    concurrency: int,
    timeout: float,
    shared: Shared,
    on_outcome: Callable[[Outcome, int], None],
) -> bool:
    """Run every task, each outcome into `report` (and to `on_outcome` with how many have finished), the
    report rewritten every few seconds. True when Ctrl-C stopped it; either way the rows still in flight
    end with their job ids (`record_in_flight`)."""
    task_queue: queue.Queue[Task | None] = queue.Queue()
    results: Results = queue.Queue()
    for task in tasks:
        task_queue.put(task)
    api = SerialApi(client)
    # The newest jobs are the ones in flight (at most --concurrency), unless others use the same key.
    watcher = Watcher(api, shared, page_size=min(100, concurrency + 2))
    watcher.thread.start()
    workers = [
        threading.Thread(
            target=_worker,
            args=(task_queue, results, api, watcher, out_dir, timeout, shared),
            name=f"shotwire-batch-{number}",
            daemon=True,  # Ctrl-C never waits for a poll or a download to end
        )
        for number in range(min(concurrency, max(1, len(tasks))))
    ]
    for _ in workers:
        task_queue.put(None)
    for worker in workers:
        worker.start()
    interrupted = False
    finished = 0
    try:
        while finished < len(tasks) and not shared.stop.is_set():
            if time.monotonic() - report.written_at > REPORT_EVERY:
                record_in_flight(report, tasks)
                report.write()
            try:
                task, outcome = results.get(timeout=0.25)
            except queue.Empty:
                continue
            finished += 1
            if outcome is None:
                continue
            report.set(task.index, outcome)
            on_outcome(outcome, finished)
    except KeyboardInterrupt:
        interrupted = True
    shared.stop.set()
    with api.quiet(timeout=5.0):
        # Drain what finished meanwhile, then mark the rest: in flight (with job ids) or pending.
        while True:
            try:
                task, outcome = results.get_nowait()
            except queue.Empty:
                break
            if outcome is not None:
                report.set(task.index, outcome)
        record_in_flight(report, tasks, final=True)
    return interrupted


def _worker(
    tasks: queue.Queue[Task | None],
    results: Results,
    api: SerialApi,
    watcher: Watcher,
    out_dir: Path,
    timeout: float,
    shared: Shared,
) -> None:
    while True:
        task = tasks.get()
        if task is None or shared.stop.is_set():
            return
        try:
            outcome: Outcome | None = _work(task, api, watcher, out_dir, timeout, shared)
        except Stopped:
            return
        except Exception as error:
            if is_fatal(error):
                shared.fail(error)
                return
            # Once the job exists (and had not failed) the row is incomplete: the next run resumes that job.
            job_id = task.known_job_id
            outcome = Outcome.of(
                task.row,
                status=INCOMPLETE if job_id else "failed",
                job_id=job_id,
                error=f"{type(error).__name__}: {error}",
                seconds=task.elapsed(),
                retry_of=None if job_id else task.retry_of,
            )
        results.put((task, outcome))


def _work(task: Task, api: SerialApi, watcher: Watcher, out_dir: Path, timeout: float, shared: Shared) -> Outcome:
    """Submit (or take up the earlier run's job), wait, download, write. A row whose job exists and has not
    failed but whose image was not saved ends `incomplete`, with the job id, for the next run to resume."""
    row = task.row
    outcome = Outcome.of(row)
    task.started = time.monotonic()
    job = None
    if task.resume_job_id:
        job = _resumable(api, task.resume_job_id)
        if job is None:  # failed or gone: not this row's job any more (nor its id in the report)
            task.retry_of, task.resume_job_id = task.resume_job_id, None
    resumed = job is not None
    if job is None:
        job = api.submit(task, shared)
    task.job_id = outcome.job_id = job.job_id
    while True:
        if not job.is_terminal:
            waiter = watcher.watch(job.job_id)
            deadline = task.started + timeout
            while not waiter.done.wait(0.2):
                if shared.stop.is_set():
                    raise Stopped
                if time.monotonic() >= deadline:
                    watcher.forget(job.job_id)
                    outcome.status = INCOMPLETE
                    outcome.error = f"wait_timeout: not finished after {timeout:g} s (a re-run waits for this job)"
                    outcome.seconds = task.elapsed()
                    return outcome
            job = waiter.job
        if job.status == "failed":
            code, message = job_error(job)
            outcome.status = "failed"
            outcome.error = f"{code or 'failed'}: {message or 'no reason given'}"
            break
        try:
            data = api.download(job)
        except ImageUnavailable as error:
            if resumed and error.status in (403, 404, 410):  # an earlier run's job whose image has expired
                resumed = False
                task.retry_of, task.resume_job_id, task.job_id = job.job_id, None, None
                outcome.job_id = None
                job = api.submit(task, shared)
                task.job_id = outcome.job_id = job.job_id
                continue
            raise
        write_atomically(out_dir / row.file, data)
        outcome.status = "completed"
        outcome.bytes, outcome.width, outcome.height = len(data), job.width, job.height
        break
    outcome.seconds = task.elapsed()
    return outcome


def _resumable(api: SerialApi, job_id: str) -> Any:
    """An earlier run's job for this row, unless it failed or no longer exists (then: None, capture again)."""
    try:
        job = api.get(job_id)
    except APIError as error:
        if error.status in (404, 410):
            return None
        raise
    return None if job.status == "failed" else job
