"""Learning when jobs finish for every worker at once: one list call per look, not one poll per job."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from shotwire.cli.batch.api import SerialApi, Shared, is_fatal

__all__ = ["Waiter", "Watcher"]

LOOK_EVERY = 0.5  # seconds between looks at the jobs in flight (one API call for all of them)
DIRECT_LOOK_EVERY = 2.0  # a job the newest-jobs page does not show is asked for directly this often


@dataclass
class Waiter:
    job_id: str
    done: threading.Event = field(default_factory=threading.Event)
    job: Any = None
    checked: float = field(default_factory=time.monotonic)  # when it was last seen or asked for directly


class Watcher:
    """Finds out when jobs finish, for all workers at once: one `GET /v1/screenshots` (the newest jobs,
    each with its status and download link) per look, instead of one GET per job. A job that page does
    not show (other jobs of the tenant came after it) is asked for directly, every few seconds."""

    def __init__(self, api: SerialApi, shared: Shared, page_size: int) -> None:
        self.api = api
        self.shared = shared
        self.page_size = page_size
        self.waiting: dict[str, Waiter] = {}
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="shotwire-batch-watcher", daemon=True)

    def watch(self, job_id: str) -> Waiter:
        waiter = Waiter(job_id)
        with self.lock:
            self.waiting[job_id] = waiter
        self.wake.set()
        return waiter

    def forget(self, job_id: str) -> None:
        with self.lock:
            self.waiting.pop(job_id, None)

    def _run(self) -> None:
        while not self.shared.stop.is_set():
            with self.lock:
                waiting = list(self.waiting.values())
            if not waiting:
                self.wake.wait(0.2)
                self.wake.clear()
                continue
            started = time.monotonic()
            try:
                self._look(waiting)
            except Exception as error:
                if is_fatal(error):
                    self.shared.fail(error)
                    return
                # A transient problem with one look: the next look tries again.
            # At most half of the API's time goes to looking; the rest is for submitting.
            self.shared.stop.wait(max(LOOK_EVERY, time.monotonic() - started))

    def _look(self, waiting: list[Waiter]) -> None:
        seen = {job.job_id: job for job in self.api.recent(self.page_size)}
        now = time.monotonic()
        for waiter in waiting:
            job = seen.get(waiter.job_id)
            if job is not None:
                waiter.checked = now
            elif now - waiter.checked > DIRECT_LOOK_EVERY:
                waiter.checked = now
                job = self.api.get(waiter.job_id)
            if job is not None and job.is_terminal:
                waiter.job = job
                self.forget(waiter.job_id)
                waiter.done.set()
