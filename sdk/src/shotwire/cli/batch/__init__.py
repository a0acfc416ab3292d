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

The modules, one concern each: `model` (Row, Task, Outcome, statuses), `inputs` (the input file into
rows), `files` (names in --out), `report` (report.jsonl), `resume` (what an earlier run did), `api`
(the API calls, one at a time), `watcher` (when jobs finish), `engine` (the workers), `signals`,
`display` (progress and summary) and `command` (`run_batch`, which the Typer command calls).
"""

from __future__ import annotations

from shotwire.cli.batch.api import ImageUnavailable, SerialApi
from shotwire.cli.batch.command import run_batch
from shotwire.cli.batch.files import REPORT_NAME, check_inside, remove_leftovers
from shotwire.cli.batch.inputs import detect_format, parse_rows
from shotwire.cli.batch.model import InputError, Outcome, Row, Task

__all__ = [
    "REPORT_NAME",
    "ImageUnavailable",
    "InputError",
    "Outcome",
    "Row",
    "SerialApi",
    "Task",
    "check_inside",
    "detect_format",
    "parse_rows",
    "remove_leftovers",
    "run_batch",
]
