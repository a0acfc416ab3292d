"""`shotwire batch FILE --out DIR`: many captures with progress, a summary, a JSONL report, and resume.

How it works, and why not `POST /v1/batches`: each input row is its own job, submitted by one of
`--concurrency` workers (submit, wait, download; one watcher learns when jobs finish for all of them), so
that

- progress, errors and timings are per row, and a row's failure never holds the others back;
- every image is written as soon as it is ready (temp file + rename, so a file that exists is complete)
  and a re-run can skip exactly the rows whose image exists: the image *is* the checkpoint (for a name
  the input gives, one the report says was saved for the same URL and options: each line has the row's
  `key`);
- the job id is known the moment a row is submitted and goes into the report, so a re-run after Ctrl-C
  picks up the jobs that were in flight (downloads them when they finished, waits when they have not)
  instead of capturing those pages again; so does a row whose job ran past `--timeout` or whose image
  failed to download (`incomplete`): only a job that failed or is gone is submitted again. A job whose
  id never reached the report comes back too: each row's Idempotency-Key is the same on every run;
- there is no 1,000-item cap (a `/v1/batches` request holds at most 1,000) and no single batch id to
  lose.

The price is one request per row plus the watcher's one request every 0.5 s (cheap next to a capture).

Each row's image goes to `DIR/<slug>-<hash>.<ext>`, where the hash covers the URL and every option
(the command line's defaults included): the same row gets the same name on every run, a changed row a
new one. A `file` column/key names the file instead (two different rows may not name the same file).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import queue
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

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

from shotwire import APIError, ConfigurationError, ShotwireError, TransportError
from shotwire._http import Call
from shotwire.cli.common import make_client, sigterm_as_interrupt
from shotwire.cli.errors import report
from shotwire.cli.jobs import extension_for, job_error, slug
from shotwire.cli.options import API_FIELDS, coerce_option, normalise_key
from shotwire.cli.output import ExitCode, State, err, fail, out, print_json
from shotwire.client import write_atomically

__all__ = ["REPORT_NAME", "InputError", "Outcome", "Row", "detect_format", "parse_rows", "run_batch"]

REPORT_NAME = "report.jsonl"
FILE_KEYS = ("file", "filename", "output")
LOOK_EVERY = 0.5  # seconds between looks at the jobs in flight (one API call for all of them)
DIRECT_LOOK_EVERY = 2.0  # a job the newest-jobs page does not show is asked for directly this often
REPORT_EVERY = 2.0  # seconds between rewrites of report.jsonl while the batch runs
IN_FLIGHT = ("submitted", "queued", "processing", "interrupted")
# A job exists and had not failed, but its image was not saved (not finished within --timeout, or the
# download or the write failed): a failure of this run, which the next run resumes with the same job.
INCOMPLETE = "incomplete"
FAILED = ("failed", INCOMPLETE)  # what counts as a failed row (exit code 1, the summary's `failed`)
HEADER_ONLY = ("url", "urls")  # a first line that is just this is a one-column CSV's header
# write_atomically's temporary files: `.{name}.{8 random characters of mkstemp}.part`
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.part$")


class InputError(ValueError):
    """The input file cannot be used; nothing was submitted."""


@dataclass
class Row:
    line: int  # 1-based line (text/JSONL) or record line (CSV) of the input
    url: str
    options: dict[str, Any]  # snake_case, the command line's defaults merged under the row's own
    file: str = ""  # relative to --out

    @property
    def key(self) -> str:
        canonical = json.dumps({"url": self.url, **self.options}, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()[:10]


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

    def as_json(self) -> dict[str, Any]:
        data = {
            "line": self.line,
            "url": self.url,
            "status": self.status,
            "job_id": self.job_id,
            "file": self.file,
            "bytes": self.bytes,
            "width": self.width,
            "height": self.height,
            "error": self.error,
            "seconds": self.seconds,
            "key": self.key,
        }
        if self.duplicate_of is not None:
            data["duplicate_of"] = self.duplicate_of
        if self.retry_of is not None:
            data["retry_of"] = self.retry_of
        return data


# --- input ------------------------------------------------------------------------------------------------


def _read_source(source: str) -> tuple[str, str]:
    """(text, name) of the input; `-` is stdin."""
    if source == "-":
        return sys.stdin.read(), "stdin"
    path = Path(source).expanduser()
    try:
        return path.read_text(encoding="utf-8-sig"), path.name
    except FileNotFoundError:
        fail(f"no such file: {source}", ExitCode.USAGE)
    except IsADirectoryError:
        fail(f"{source} is a directory, not a list of URLs", ExitCode.USAGE)
    except UnicodeDecodeError:
        fail(f"{source} is not UTF-8 text", ExitCode.USAGE)


def detect_format(text: str, name: str, declared: str) -> str:
    if declared != "auto":
        return declared
    suffix = PurePosixPath(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            return "jsonl"
        first_cell = line.split(",", 1)[0].strip().strip('"').lower()
        return "csv" if first_cell in HEADER_ONLY else "text"  # a header: `url,width,...`, or `url` alone
    return "text"


def _row_options(raw: dict[str, Any], where: str) -> tuple[str, dict[str, Any], str]:
    """(url, options, file) of one CSV record or JSON object; InputError naming the place."""
    url = ""
    options: dict[str, Any] = {}
    file_name = ""
    for key, value in raw.items():
        if key is None:
            raise InputError(f"{where}: more cells than the header has columns")
        name = normalise_key(str(key))
        if name in ("url", "urls"):
            url = str(value or "").strip()
            continue
        if name in FILE_KEYS:
            file_name = str(value or "").strip()
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name not in API_FIELDS:
            raise InputError(f"{where}: {key!r} is not a capture option (e.g. width, height, full_page, format)")
        try:
            options[name] = coerce_option(name, value)
        except ValueError as error:
            raise InputError(f"{where}: {error}") from None
    return url, options, file_name


def parse_rows(text: str, kind: str, defaults: dict[str, Any]) -> list[Row]:
    """The rows of a text, CSV or JSONL input, with `defaults` under each row's own options."""
    rows: list[Row] = []
    if kind == "text":
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if line and not line.startswith("#"):
                rows.append(Row(number, line.split()[0], dict(defaults)))
    elif kind == "csv":
        for number, record in _csv_records(text):
            url, options, file_name = _row_options(record, f"line {number}")
            if url:
                rows.append(Row(number, url, {**defaults, **options}, file_name))
    elif kind == "jsonl":
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as error:
                raise InputError(f"line {number}: not valid JSON ({error.msg})") from None
            if isinstance(value, str):
                value = {"url": value}
            if not isinstance(value, dict):
                raise InputError(f"line {number}: expected an object with a url (or a URL string)")
            url, options, file_name = _row_options(value, f"line {number}")
            if not url:
                raise InputError(f"line {number}: no url")
            rows.append(Row(number, url, {**defaults, **options}, file_name))
    else:
        raise InputError(f"unknown input format {kind!r} (auto, text, csv or jsonl)")
    for row in rows:
        row.file = _file_name(row)
    _check_files(rows)
    # Identical rows whose names differ only in case write one file: the first row's name.
    first_name: dict[str, str] = {}
    for row in rows:
        row.file = first_name.setdefault(row.file.casefold(), row.file)
    return rows


def _csv_records(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line the record starts on, {column: cell}) of each CSV record after the header. Blank lines and
    lines starting with `#` (outside quoted cells) are skipped without renumbering the others, and a
    quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text))
    header: list[str] | None = None
    next_line = 1
    for cells in reader:
        number, next_line = next_line, reader.line_num + 1
        if not any(cell.strip() for cell in cells) or cells[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = cells
            names = [normalise_key(name) for name in header]
            if "url" not in names and "urls" not in names:
                raise InputError("the CSV needs a header row with a url column (e.g. url,width,full_page)")
            continue
        if len(cells) > len(header):
            raise InputError(f"line {number}: more cells than the header has columns")
        yield number, {name: cells[i] if i < len(cells) else None for i, name in enumerate(header)}
    if header is None:
        raise InputError("the CSV needs a header row with a url column (e.g. url,width,full_page)")


def _file_name(row: Row) -> str:
    extension = extension_for(row.options.get("format"))
    if row.file:
        if "\0" in row.file:
            raise InputError(f"line {row.line}: file {row.file!r} contains a NUL character")
        path = PurePosixPath(row.file.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts or not path.parts:
            raise InputError(f"line {row.line}: file {row.file!r} must be a name inside --out")
        name = str(path) if path.suffix else f"{path}.{extension}"
        if name.casefold() == REPORT_NAME or name.casefold().endswith(".part"):
            raise InputError(f"line {row.line}: file {row.file!r} is reserved (the report, or a temporary file)")
        return name
    parts = urlsplit(row.url)
    readable = slug(f"{parts.hostname or 'page'}{'_' + str(parts.port) if parts.port else ''}{parts.path}", 50)
    return f"{readable}-{row.key}.{extension}"


def _check_files(rows: list[Row]) -> None:
    """Rows share a file only when they are the same capture (same URL and options: a duplicate). Names
    are compared without case, as on macOS and Windows; a file may not also be another row's folder."""
    first: dict[str, Row] = {}
    clashes: list[str] = []
    for row in rows:
        other = first.setdefault(row.file.casefold(), row)
        if other is not row and other.key != row.key:
            clashes.append(f"lines {other.line} and {row.line} both write {other.file!r}")
    folders = {str(parent).casefold(): row for row in rows for parent in PurePosixPath(row.file).parents}
    for name, row in first.items():
        if name in folders:
            clashes.append(f"line {row.line} writes {row.file!r}, a folder of line {folders[name].line}'s file")
    if clashes:
        more = f" (and {len(clashes) - 3} more)" if len(clashes) > 3 else ""
        raise InputError("; ".join(clashes[:3]) + more + ": give each different row its own file (or no file column)")


def _validate(rows: list[Row]) -> None:
    """Check every row with the SDK's own rules before submitting anything."""
    from shotwire.models import screenshot_body

    problems: list[str] = []
    for row in rows:
        try:
            screenshot_body({**row.options, "url": row.url})
        except APIError as error:
            reasons = "; ".join(str(p.get("message")) for p in error.details) or error.message
            problems.append(f"line {row.line}: {reasons}")
    if problems:
        shown = problems[:10] + ([f"... and {len(problems) - 10} more"] if len(problems) > 10 else [])
        raise InputError(f"{len(problems)} invalid row(s), nothing submitted:\n  " + "\n  ".join(shown))


# --- running ----------------------------------------------------------------------------------------------


@dataclass
class Task:
    """One distinct image to make (rows with the same URL and options share it)."""

    row: Row
    resume_job_id: str | None = None
    job_id: str | None = None
    started: float | None = None
    retry_of: str | None = None  # an earlier job not to reuse (failed, gone, or its image expired)
    out_root: str = ""  # the resolved --out: with the row and retry_of, what the Idempotency-Key is made of

    @property
    def idempotency_key(self) -> str:
        """The same on every run for the same --out, row and earlier job: a re-run that submits a row whose
        job id never reached the report (killed, or stopped while the submit was in flight) gets that job
        back from the API (within its 24 h) instead of a second one. A row whose earlier job failed, is gone
        or whose image expired (`retry_of`) gets a new key, so it really is captured again. The row's exact
        JSON is in it too: the API refuses a key reused with another body (objects with their keys in
        another order), while Row.key sorts them."""
        exact = json.dumps({"url": self.row.url, **self.row.options}, separators=(",", ":"), default=str)
        text = "\n".join((self.out_root, self.row.key, exact, self.retry_of or ""))
        return "batch-" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]


@dataclass
class Shared:
    stop: threading.Event = field(default_factory=threading.Event)
    fatal: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, error: BaseException) -> None:
        """An error about the API or the key, not a row: stop everything (the batch can be resumed)."""
        with self.lock:
            self.fatal = self.fatal or error
        self.stop.set()


class ImageUnavailable(Exception):
    """The image of a finished job could not be fetched through its download link (after the SDK signed a
    fresh one): `status` is the storage's HTTP status, if it answered. Not about the key: the batch goes on."""

    def __init__(self, job_id: str, error: ShotwireError) -> None:
        self.status = error.status if isinstance(error, APIError) else None
        super().__init__(f"the image of job {job_id} could not be downloaded: {error}")


class SerialApi:
    """The batch's API calls, one at a time. Each takes milliseconds; what runs in parallel is the captures
    on the service and the image downloads (signed links, which no tenant rate counts). One at a time is
    gentle on the tenant's request rate, and it lets the final report wait for the call in flight (`quiet`), so it sees
    the id of every job submitted. So `download` takes the lock only for the API calls the SDK makes on its
    way (`GET /v1/screenshots/{id}` for a job without a link, or to sign a fresh one when the link has
    expired), not for the bytes."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lock = threading.Lock()

    def submit(self, task: Task, shared: Shared) -> Any:
        """Submit a row's job and note its id on the task before anyone else may call: after a stop, whoever
        holds the lock next sees every job that exists."""
        with self.lock:
            if shared.stop.is_set():
                raise _Stopped
            job = self.client.submit(task.row.url, idempotency_key=task.idempotency_key, **task.row.options)
            task.job_id = job.job_id
            return job

    @contextmanager
    def quiet(self, timeout: float) -> Iterator[None]:
        """Wait (a little) for a call in flight to return and start no other meanwhile: for the final report,
        which then sees the id of every job that was submitted."""
        acquired = self.lock.acquire(timeout=timeout)
        try:
            yield
        finally:
            if acquired:
                self.lock.release()

    def get(self, job_id: str) -> Any:
        with self.lock:
            return self.client.get(job_id)

    def recent(self, limit: int) -> list[Any]:
        with self.lock:
            return list(self.client.list(limit=limit).data)

    def download(self, job: Any) -> bytes:
        """The image of a completed job: the SDK's own `download` steps, with each API call made under the
        lock and each download-link fetch outside it. ImageUnavailable when the fetch itself fails."""
        core, run = getattr(self.client, "_core", None), getattr(self.client, "_run", None)
        if core is None or run is None:  # not the SDK's Client (a stand-in): one call at a time, all of it
            with self.lock:
                data: bytes = self.client.download(job)
                return data
        fetch_errors: list[ShotwireError] = []

        def send(call: Call) -> Any:
            if call.authenticated:
                with self.lock:
                    return self.client._send(call)
            try:
                return self.client._send(call)
            except ShotwireError as error:
                fetch_errors.append(error)
                raise

        try:
            result: bytes = run(core.download(job), send=send)
            return result
        except ShotwireError as error:
            if fetch_errors and error is fetch_errors[-1]:
                raise ImageUnavailable(job.job_id, error) from error
            raise


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
                if _is_fatal(error):
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


class _Stopped(Exception):
    """The batch is stopping: a worker leaves its row as it is."""


def _previous_report(path: Path) -> dict[str, dict[str, Any]]:
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


def _work(task: Task, api: SerialApi, watcher: Watcher, out_dir: Path, timeout: float, shared: Shared) -> Outcome:
    """Submit (or take up the earlier run's job), wait, download, write. A row whose job exists and has not
    failed but whose image was not saved ends `incomplete`, with the job id, for the next run to resume."""
    row = task.row
    outcome = Outcome(row.line, row.url, file=row.file, key=row.key)
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
                    raise _Stopped
                if time.monotonic() >= deadline:
                    watcher.forget(job.job_id)
                    outcome.status = INCOMPLETE
                    outcome.error = f"wait_timeout: not finished after {timeout:g} s (a re-run waits for this job)"
                    outcome.seconds = round(time.monotonic() - task.started, 3)
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
    outcome.seconds = round(time.monotonic() - task.started, 3)
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


def _is_fatal(error: BaseException) -> bool:
    """Errors about the API or the key, not about a row: the whole batch stops (and can be resumed)."""
    if isinstance(error, ConfigurationError):
        return True
    if isinstance(error, APIError):
        return error.status in (401, 403, 429)
    return isinstance(error, TransportError)


def _worker(
    tasks: queue.Queue[Task | None],
    results: queue.Queue[tuple[Task, Outcome | None]],
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
        except _Stopped:
            return
        except Exception as error:
            if _is_fatal(error):
                shared.fail(error)
                return
            # Once the job exists (and had not failed) the row is incomplete: the next run resumes that job.
            job_id = task.job_id or task.resume_job_id
            status = INCOMPLETE if job_id else "failed"
            outcome = Outcome(task.row.line, task.row.url, status=status, job_id=job_id, file=task.row.file)
            outcome.key, outcome.retry_of = task.row.key, None if job_id else task.retry_of
            outcome.error = f"{type(error).__name__}: {error}"
            if task.started is not None:
                outcome.seconds = round(time.monotonic() - task.started, 3)
        results.put((task, outcome))


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """While the report is written, a second Ctrl-C waits instead of leaving it half done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class Report:
    def __init__(self, path: Path, rows: list[Row]) -> None:
        self.path = path
        self.rows = rows
        self.outcomes: dict[int, Outcome] = {}  # by row index
        self.written_at = 0.0

    def set(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome

    def lines(self) -> list[Outcome]:
        return [
            self.outcomes.get(index) or Outcome(row.line, row.url, file=row.file, key=row.key)
            for index, row in enumerate(self.rows)
        ]

    def write(self) -> None:
        text = "".join(json.dumps(o.as_json(), ensure_ascii=False) + "\n" for o in self.lines())
        write_atomically(self.path, text.encode("utf-8"))
        self.written_at = time.monotonic()


def _progress() -> Progress:
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
    text, name = _read_source(source)
    try:
        rows = parse_rows(text, detect_format(text, name, input_format), defaults)
        if not rows:
            raise InputError(f"no URLs in {name}")
        _validate(rows)
    except InputError as error:
        fail(str(error), ExitCode.USAGE)
    if out_dir is None:
        out_dir = Path(f"{PurePosixPath(name).stem or 'batch'}-screenshots")
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        _check_inside(out_dir, rows)
    except InputError as error:
        fail(str(error), ExitCode.USAGE)
    _remove_leftovers(out_dir, rows)
    report_path = out_dir / REPORT_NAME
    previous = _previous_report(report_path)
    report_file = Report(report_path, rows)

    # One task per distinct file; rows whose image was saved by an earlier run are skipped (resume).
    out_root = str(out_dir.resolve())
    first_of: dict[str, int] = {}  # casefolded file -> index of the first row writing it
    tasks: list[tuple[int, Task]] = []
    skipped = 0
    for index, row in enumerate(rows):
        if row.file.casefold() in first_of:
            continue
        first_of[row.file.casefold()] = index
        target = out_dir / row.file
        before = previous.get(row.file.casefold(), {})
        if _saved_before(target, before, row):
            skipped += 1
            report_file.set(
                index,
                Outcome(
                    row.line,
                    row.url,
                    status="skipped",
                    job_id=before.get("job_id"),
                    file=row.file,
                    bytes=target.stat().st_size,
                    width=before.get("width"),
                    height=before.get("height"),
                    key=row.key,
                ),
            )
            continue
        task = Task(row, resume_job_id=_earlier_job(before, row), out_root=out_root)
        if task.resume_job_id is None and _same_row(before, row) and isinstance(before.get("retry_of"), str):
            task.retry_of = before["retry_of"]
        tasks.append((index, task))
    index_of = {id(task): index for index, task in tasks}

    shared = Shared()
    started = time.monotonic()
    counts = {"completed": 0, "failed": 0}
    interrupted = False
    task_queue: queue.Queue[Task | None] = queue.Queue()
    results: queue.Queue[tuple[Task, Outcome | None]] = queue.Queue()
    for _, task in tasks:
        task_queue.put(task)
    if not state.json:
        resumed = sum(1 for _, task in tasks if task.resume_job_id)
        note = f", resuming {resumed} job(s) of an earlier run" if resumed else ""
        err.print(
            f"{len(rows)} rows: {len(tasks)} to capture, {skipped} already in {out_dir}/{note}; "
            f"concurrency {concurrency}"
        )
    try:
        with sigterm_as_interrupt(), make_client(state) as client, _progress() as progress:
            bar = progress.add_task(
                "capturing", total=len(tasks), done=0, failed=0, extra=f" [blue]{skipped} skipped[/]" if skipped else ""
            )
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
            finished = 0
            try:
                while finished < len(tasks) and not shared.stop.is_set():
                    if time.monotonic() - report_file.written_at > REPORT_EVERY:
                        _record_in_flight(report_file, tasks, index_of)
                        report_file.write()
                    try:
                        task, outcome = results.get(timeout=0.25)
                    except queue.Empty:
                        continue
                    finished += 1
                    if outcome is None:
                        continue
                    report_file.set(index_of[id(task)], outcome)
                    counts["failed" if outcome.status in FAILED else "completed"] += 1
                    progress.update(bar, advance=1, done=counts["completed"], failed=counts["failed"])
                    if not err.is_terminal and not state.json:
                        _log_line(outcome, finished, len(tasks))
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
                        report_file.set(index_of[id(task)], outcome)
                _record_in_flight(report_file, tasks, index_of, final=True)
    except KeyboardInterrupt:
        interrupted = True
        shared.stop.set()
        _record_in_flight(report_file, tasks, index_of, final=True)
    _fill_duplicates(report_file, rows, first_of)
    with _no_interrupts():
        report_file.write()
    seconds = time.monotonic() - started
    return _finish(state, report_file, out_dir, seconds, interrupted, shared.fatal)


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


def _check_inside(out_dir: Path, rows: list[Row]) -> None:
    """Every image lands inside --out, even through a symbolic link in it."""
    root = out_dir.resolve()
    for row in rows:
        try:
            inside = (out_dir / row.file).resolve().is_relative_to(root)
        except (ValueError, OSError, RuntimeError) as error:  # a NUL, a name too long, a loop of links...
            raise InputError(f"line {row.line}: file {row.file!r} cannot be used: {error}") from None
        if not inside:
            raise InputError(f"line {row.line}: file {row.file!r} resolves outside {out_dir}")


def _remove_leftovers(out_dir: Path, rows: list[Row]) -> None:
    """Delete the temporary files of an earlier run killed while writing: only those of this batch's own
    files (the images and the report), nothing else that happens to be in --out."""
    expected: dict[Path, set[str]] = {}
    for name in [REPORT_NAME, *(row.file for row in rows)]:
        target = out_dir / name
        expected.setdefault(target.parent, set()).add(target.name)
    for folder, names in expected.items():
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            match = TEMPORARY.match(entry.name)
            if match and match["name"] in names and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)


def _record_in_flight(
    report_file: Report,
    tasks: list[tuple[int, Task]],
    index_of: dict[int, int],
    *,
    final: bool = False,
) -> None:
    """Rows submitted but not finished get their job id in the report (status `interrupted` at the end,
    `processing` meanwhile), so a re-run picks their jobs up instead of capturing again. A row with no job
    yet that replaces an earlier one stays `pending` with `retry_of`, which its Idempotency-Key is made of."""
    for _, task in tasks:
        index = index_of[id(task)]
        existing = report_file.outcomes.get(index)
        if existing is not None and existing.status not in (*IN_FLIGHT, "pending"):
            continue
        row, job_id, retry_of = task.row, task.job_id or task.resume_job_id, task.retry_of
        if job_id is not None:
            status = "interrupted" if final else "processing"
            outcome = Outcome(row.line, row.url, status=status, job_id=job_id, file=row.file, key=row.key)
        elif retry_of is not None:
            outcome = Outcome(row.line, row.url, file=row.file, key=row.key, retry_of=retry_of)
        else:
            continue
        report_file.set(index, outcome)


def _fill_duplicates(report_file: Report, rows: list[Row], first_of: dict[str, int]) -> None:
    for index, row in enumerate(rows):
        first = first_of[row.file.casefold()]
        if first == index:
            continue
        original = report_file.outcomes.get(first) or Outcome(rows[first].line, row.url, file=row.file, key=row.key)
        copy = dataclasses.replace(original, line=row.line, url=row.url, duplicate_of=rows[first].line)
        report_file.set(index, copy)


def _log_line(outcome: Outcome, finished: int, total: int) -> None:
    width = len(str(total))
    if outcome.status == "completed":
        err.print(f"[{finished:>{width}}/{total}] [green]✓[/] {escape(str(outcome.file))} ({outcome.seconds} s)")
    else:
        err.print(f"[{finished:>{width}}/{total}] [red]✗[/] {escape(outcome.url)}: {escape(str(outcome.error))}")


def _finish(
    state: State, report_file: Report, out_dir: Path, seconds: float, interrupted: bool, fatal: BaseException | None
) -> int:
    lines = report_file.lines()
    tally = {status: 0 for status in ("completed", "skipped", "failed", INCOMPLETE, "interrupted", "pending")}
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
                "report": str(report_file.path),
                "stopped": "interrupted" if interrupted else ("error" if fatal is not None else None),
                "failures": [o.as_json() for o in failures],
            }
        )
    else:
        _summary_table(tally, len(lines), seconds, out_dir, report_file.path, failures)
    if fatal is not None:
        code = report(fatal, state)
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
    styles = {"completed": "green", "skipped": "blue", "failed": "red", "interrupted": "magenta", "pending": "yellow"}
    for status, style in styles.items():
        if tally[status] or status in ("completed", "failed"):
            table.add_row(f"[{style}]{status}[/]", str(tally[status]))
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
