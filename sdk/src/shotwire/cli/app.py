"""The `shotwire` command: capture, jobs, batches and a webhook receiver.

`create_app()` builds the typer app; `app` is the SDK's. The shotwire repository's own `shotwire`
(devstack/shotwire_cli.py) builds one with `create_app` too and adds the commands that need the checkout
(`dev`, `keys`, `tenants`): this package imports nothing outside the SDK."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from shotwire.cli.common import (
    DebugOption,
    JsonOption,
    command_options,
    current_state,
    make_client,
    start_state,
)
from shotwire.cli.jobs import default_filename, field, format_for_suffix, job_error, status_style
from shotwire.cli.options import capture_options
from shotwire.cli.output import ExitCode, State, err, fail, human_size, jsonable, out, print_json, status_spinner
from shotwire.client import write_atomically

if TYPE_CHECKING:
    from shotwire.cli.listen import SecretFallback

CAPTURE = "Capture"
JOBS = "Jobs and webhooks"
SCREENSHOTS = Path("screenshots")


def _version(value: bool) -> None:
    if value:
        from shotwire.cli import version

        out.print(f"shotwire {version()}")
        raise typer.Exit()


def root(
    json_output: JsonOption = False,
    debug: DebugOption = False,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="SHOTWIRE_API_KEY", show_envvar=True, help="API key.", rich_help_panel="Global options"
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            envvar="SHOTWIRE_API_URL",
            show_envvar=True,
            help="API base URL.",
            rich_help_panel="Global options",
        ),
    ] = None,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """shotwire: screenshots of web pages through the shotwire API (docs/cli.md).

    Exit codes: 0 ok, 1 capture failed, 2 usage or invalid request, 3 auth/config, 4 not found,
    5 API unreachable or server error, 130 interrupted.
    """
    state = State(api_key=api_key, api_url=api_url)
    state.json = json_output
    state.debug = state.debug or debug
    start_state(state)


# --- capture ---------------------------------------------------------------------------------------------


def _target_path(output: str | None, url: str, job_id: str, image_format: str | None) -> Path:
    name = default_filename(url, job_id, image_format)
    if output is None:
        return Path(name)
    path = Path(output).expanduser()
    if output.endswith(("/", "\\")) or path.is_dir():
        return path / name
    return path


def _wait(client: Any, job: Any, timeout: float, state: State) -> Any:
    job_id = job.job_id
    with status_spinner(f"waiting for {job_id} ({job.status})…", enabled=not state.json):
        return client.wait(job_id, timeout=timeout)


def _failed(job: Any, state: State) -> None:
    """Report a failed job (its JSON on stdout with --json) and exit 1."""
    code, message = job_error(job)
    if state.json:
        print_json(job)
    fail(
        f"capture of {job.url} failed (job {job.job_id}): {code or 'failed'}: {message or 'no reason given'}",
        ExitCode.FAILED,
    )


@command_options()
@capture_options
def capture(
    url: Annotated[str, typer.Argument(help="The page to capture (http or https).", show_default=False)],
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write, a directory, or - for stdout. Default: <host>-<jobid>.<ext> in the current directory.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the job to finish.")] = 120.0,
    *,
    options: dict[str, Any],
) -> None:
    """Capture URL and save the image: submit, wait, download, in one command.

    Prints the file, its size, the image's dimensions and the time it took.
    """
    state = current_state()
    if output == "-" and state.json:
        fail("--json and -o - both want stdout; pick one", ExitCode.USAGE)
    if output not in (None, "-") and "format" not in options:
        guessed = format_for_suffix(Path(output).suffix)
        if guessed:
            options["format"] = guessed
    from shotwire import CaptureFailed

    started = time.monotonic()
    with make_client(state) as client:
        # The SDK's capture flow: the server holds each POST until the job ends (?wait=, 25 s at a time), so
        # the image is fetched the moment it is ready instead of at the next poll.
        try:
            with status_spinner(f"capturing {url}…", enabled=not state.json):
                finished, data = client._run(client._core.capture(url, timeout, options, want_job=True))
        except CaptureFailed as failure:
            _failed(failure.job, state)
        assert finished is not None
        job = finished
    seconds = time.monotonic() - started
    image_format = field(job, "format", default=options.get("format", "png"))
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        err.print(f"[green]✓[/] {human_size(len(data))}, {job.width}x{job.height} {image_format}, {seconds:.1f} s")
        return
    path = _target_path(output, url, job.job_id, image_format)
    write_atomically(path, data)
    if state.json:
        print_json(
            {
                "file": str(path),
                "bytes": len(data),
                "width": job.width,
                "height": job.height,
                "format": image_format,
                "seconds": round(seconds, 3),
                "job": job,
            }
        )
        return
    out.print(
        f"[green]✓[/] saved [bold]{escape(str(path))}[/]  {human_size(len(data))}, "
        f"{job.width}x{job.height} {image_format}, {seconds:.1f} s  [dim]({job.job_id})[/]"
    )


@command_options()
@capture_options
def submit(
    url: Annotated[str, typer.Argument(help="The page to capture (http or https).", show_default=False)],
    idempotency_key: Annotated[
        str | None, typer.Option("--idempotency-key", help="Send again safely: the same key creates one job.")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for the job to finish (exit 1 if it fails).")] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 120.0,
    *,
    options: dict[str, Any],
) -> None:
    """Queue a capture and print its job id (use --webhook-url to be notified, `status` to poll)."""
    state = current_state()
    with make_client(state) as client:
        job = client.submit(url, idempotency_key=idempotency_key, **options)
        if wait:
            job = _wait(client, job, timeout, state)
            if job.status == "failed":
                _failed(job, state)
    if state.json:
        print_json(job)
        return
    if wait:
        _print_job(job)
        return
    out.print(f"{status_style(job.status)} [bold]{job.job_id}[/]  {escape(url)}")
    err.print(f"[dim]follow it with: shotwire status {job.job_id}[/]")


# --- jobs ------------------------------------------------------------------------------------------------


def _when(value: Any) -> str:
    """A timestamp as `2026-11-23 09:00:01Z` (UTC, whole seconds)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return str(value or "")


def _print_job(job: Any) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("job", job.job_id)
    table.add_row("status", status_style(job.status))
    table.add_row("url", escape(str(job.url or "")))
    for label, names in (
        ("created", ("created_at", "createdAt")),
        ("completed", ("completed_at", "completedAt")),
        ("batch", ("batch_id", "batchId")),
        ("external id", ("external_id", "externalId")),
    ):
        value = field(job, *names)
        if value is not None:
            table.add_row(label, escape(_when(value)))
    if job.status == "completed":
        size = field(job, "bytes", "image_bytes", "imageBytes")
        table.add_row("image", f"{job.width}x{job.height} {field(job, 'format', default='')} {human_size(size)}")
        link = field(job, "download_url", "screenshot_url", "screenshotUrl")
        if link:
            table.add_row("download", escape(str(link)))
    if job.status == "failed":
        code, message = job_error(job)
        table.add_row("error", f"[red]{escape(str(code or ''))}[/] {escape(str(message or ''))}")
    metadata = field(job, "metadata")
    if metadata:
        table.add_row("metadata", escape(str(jsonable(metadata))))
    webhook = field(job, "webhook")
    if webhook is not None:
        data = jsonable(webhook)
        if isinstance(data, dict):
            table.add_row(
                "webhook",
                f"{status_style(data.get('status'))} {escape(str(data.get('url', '')))} "
                f"({len(data.get('attempts') or [])} attempts)",
            )
    out.print(table)


@command_options()
def status(
    job_id: Annotated[str, typer.Argument(help="The job id (job_…).", show_default=False)],
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the job has finished (exit 1 if it failed).")
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait with --wait.")] = 120.0,
) -> None:
    """Show a job: status, timings, image size, download link, error, webhook."""
    state = current_state()
    with make_client(state) as client:
        if wait:  # wait() looks at the job first: a finished one costs one GET either way
            with status_spinner(f"waiting for {job_id}…", enabled=not state.json):
                job = client.wait(job_id, timeout=timeout)
        else:
            job = client.get(job_id)
    if state.json:
        print_json(job)
    else:
        _print_job(job)
    if wait and job.status == "failed":  # as `submit --wait`: a script waiting on a job learns its outcome
        raise typer.Exit(int(ExitCode.FAILED))


@command_options()
def list_jobs(
    status_filter: Annotated[
        str | None, typer.Option("--status", help="Only queued, processing, completed or failed jobs.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=100, help="Jobs per page (1-100).")] = 20,
    cursor: Annotated[str | None, typer.Option("--cursor", help="The nextCursor of a previous page.")] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every job, following the pages.")] = False,
) -> None:
    """List your jobs, newest first."""
    state = current_state()
    with make_client(state) as client:
        if all_pages:
            jobs = list(client.iter_jobs(status=status_filter))
            next_cursor = None
        else:
            page = client.list(status=status_filter, limit=limit, cursor=cursor)
            jobs, next_cursor = list(page.data), page.next_cursor
    if state.json:
        print_json({"data": jobs, "nextCursor": next_cursor})
        return
    table = Table(box=None, header_style="bold")
    table.add_column("job", no_wrap=True, min_width=30)
    table.add_column("status", no_wrap=True, min_width=10)
    table.add_column("created", no_wrap=True)
    table.add_column("image", overflow="ellipsis", no_wrap=True)
    table.add_column("url", overflow="fold", ratio=1, min_width=24)
    for job in jobs:
        image = f"{job.width}x{job.height} {field(job, 'format', default='')}" if job.status == "completed" else ""
        if job.status == "failed":
            image = f"[red]{escape(str(job_error(job)[0] or 'failed'))}[/]"
        created = _when(job.created_at)[5:16]  # 11-23 19:13
        table.add_row(job.job_id, status_style(job.status), created, image, escape(str(job.url)))
    out.print(table)
    if not jobs:
        err.print("[dim]no jobs[/]")
    if next_cursor:
        err.print(f"[dim]more: shotwire list --cursor {next_cursor}[/]")


@command_options()
def delete(job_id: Annotated[str, typer.Argument(help="A finished job's id.", show_default=False)]) -> None:
    """Delete a finished job and its image."""
    state = current_state()
    with make_client(state) as client:
        client.delete(job_id)
    if state.json:
        print_json({"jobId": job_id, "deleted": True})
    else:
        out.print(f"deleted {job_id}")


@command_options()
def deliveries(job_id: Annotated[str, typer.Argument(help="The job id.", show_default=False)]) -> None:
    """Show a job's webhook deliveries and every attempt."""
    state = current_state()
    with make_client(state) as client:
        result = client.deliveries(job_id)
    data = jsonable(result)
    if state.json:
        print_json(data)
        return
    items = data.get("deliveries", []) if isinstance(data, dict) else []
    if not items:
        out.print(f"{job_id} has no webhook (submit with --webhook-url)")
        return
    for delivery in items:
        superseded = " [dim](superseded)[/]" if delivery.get("superseded") else ""
        target = f" → {escape(str(delivery['url']))}" if delivery.get("url") else ""
        out.print(
            f"[bold]{escape(str(field(delivery, 'webhookId', 'webhook_id', default='')))}[/]{target}  "
            f"{status_style(delivery.get('status'))}{superseded}"
        )
        table = Table(box=None, header_style="bold", pad_edge=False)
        for column in ("#", "at", "answer", "ms", "error", "next attempt"):
            table.add_column(column)
        for number, attempt in enumerate(delivery.get("attempts") or [], start=1):
            code = field(attempt, "statusCode", "status_code")
            error_class = field(attempt, "errorClass", "error_class")
            answer = str(code) if code is not None else str(error_class or "-")
            style = "green" if code is not None and 200 <= int(code) < 300 else "red"
            table.add_row(
                str(field(attempt, "attempt", default=number)),
                str(attempt.get("at", "")),
                f"[{style}]{escape(answer)}[/]",
                str(field(attempt, "durationMs", "duration_ms", default="")),
                escape(str(attempt.get("error") or "")),
                str(field(attempt, "nextAttemptAt", "next_attempt_at", default="")),
            )
        out.print(table)


@command_options()
def redeliver(
    job_id: Annotated[str, typer.Argument(help="A finished job with a webhookUrl.", show_default=False)],
) -> None:
    """Send a finished job's webhook again now (a new delivery with a new webhook-id)."""
    state = current_state()
    with make_client(state) as client:
        result = client.redeliver(job_id)
    data = jsonable(result)
    if state.json:
        print_json(data)
        return
    webhook_id = field(data, "webhookId", "webhook_id", default="")
    out.print(
        f"redelivering {job_id} as [bold]{escape(str(webhook_id))}[/] ({field(data, 'status', default='pending')})"
    )
    err.print(f"[dim]follow it with: shotwire deliveries {job_id}[/]")


@command_options()
def test_webhook(url: Annotated[str, typer.Argument(help="Your receiver's URL.", show_default=False)]) -> None:
    """POST a signed `webhook.test` event to URL now and show what it answered."""
    state = current_state()
    with make_client(state) as client:
        result = jsonable(client.send_test_webhook(url))
    if state.json:
        print_json(result)
        return
    delivered = bool(field(result, "delivered", default=False))
    answer = field(result, "statusCode", "status_code") or field(result, "errorClass", "error_class") or "-"
    mark = "[green]✓ delivered[/]" if delivered else "[red]✗ not delivered[/]"
    out.print(f"{mark}  answer {escape(str(answer))} in {field(result, 'durationMs', 'duration_ms', default='?')} ms")
    error_text = field(result, "error")
    if error_text:
        out.print(f"[red]{escape(str(error_text))}[/]")
    if not delivered:
        raise typer.Exit(int(ExitCode.FAILED))


# --- batch, listen --------------------------------------------------------------------------------------


@command_options()
@capture_options
def batch(
    file: Annotated[
        str,
        typer.Argument(
            help="Text (one URL a line, # comments), CSV with a url column, or JSONL objects; - for stdin.",
            show_default=False,
        ),
    ],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-d", help="Where images and report.jsonl go. Default: <file stem>-screenshots/."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64, help="Jobs in flight.")] = 8,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for each job.")] = 300.0,
    input_format: Annotated[
        str, typer.Option("--input-format", help="auto, text, csv or jsonl (auto: by extension and content).")
    ] = "auto",
    *,
    options: dict[str, Any],
) -> None:
    """Capture every URL in FILE into --out, with progress, a summary and DIR/report.jsonl.

    Capture options given here are defaults for every row; a CSV column or JSONL key overrides them.
    Re-running with the same --out skips rows whose image is already there (resume).
    """
    from shotwire.cli.batch import run_batch

    code = run_batch(
        current_state(),
        source=file,
        out_dir=out_dir,
        concurrency=concurrency,
        timeout=timeout,
        input_format=input_format,
        defaults=options,
    )
    if code:
        raise typer.Exit(int(code))


@command_options(api=False)
def listen(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", "-p", envvar="SHOTWIRE_RECEIVER_PORT", min=0, max=65535)] = 9000,
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback unless you mean it).")] = "127.0.0.1",
    out_dir: Annotated[Path, typer.Option("--out", "-d", help="Where completed images are saved.")] = SCREENSHOTS,
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            envvar="SHOTWIRE_WEBHOOK_SECRET",
            show_envvar=True,
            help="Your webhook secret (whsec_…). The repository's own shotwire defaults to the local stack's.",
        ),
    ] = None,
    no_save: Annotated[bool, typer.Option("--no-save", help="Print events only; do not download images.")] = False,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Exit after this many verified events (for scripts).")
    ] = None,
) -> None:
    """Run a local webhook receiver: verify signatures, print each event, save the images.

    Answers 204 to a verified delivery and 401 to a bad signature. Point webhookUrl (or --webhook-url)
    at http://127.0.0.1:PORT/ (any path).
    """
    from shotwire.cli.listen import SecretFallback, resolve_secret, run_listener

    state = current_state()
    fallback = ctx.find_object(SecretFallback)  # create_app(secret_fallback=…)
    code = run_listener(
        state,
        host=host,
        port=port,
        out_dir=None if no_save else out_dir,
        secret=resolve_secret(secret, host=host, fallback=fallback),
        count=count,
    )
    if code:
        raise typer.Exit(int(code))


# --- the app ---------------------------------------------------------------------------------------------

# (name, function, help panel), in the order `--help` lists them.
COMMANDS: tuple[tuple[str, Any, str], ...] = (
    ("capture", capture, CAPTURE),
    ("submit", submit, CAPTURE),
    ("status", status, JOBS),
    ("list", list_jobs, JOBS),
    ("delete", delete, JOBS),
    ("deliveries", deliveries, JOBS),
    ("redeliver", redeliver, JOBS),
    ("test-webhook", test_webhook, JOBS),
    ("batch", batch, CAPTURE),
    ("listen", listen, JOBS),
)

# Commands of the shotwire repository's own `shotwire` (devstack/shotwire_cli.py), not of the SDK.
CHECKOUT_COMMANDS = frozenset({"dev", "keys", "tenants"})


class ShotwireGroup(TyperGroup):
    """Typer's command group, except that a command of the repository's tooling says where it lives."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name in CHECKOUT_COMMANDS and self.get_command(ctx, name) is None:
            fail(
                f"`shotwire {name}` is not a command of the SDK: it is part of the shotwire repository's own tooling",
                ExitCode.USAGE,
                hint=f"in a checkout, run `.venv/bin/shotwire {name}` (`make dev` sets it up)",
            )
        return super().resolve_command(ctx, args)


def create_app(*, secret_fallback: SecretFallback | None = None) -> typer.Typer:
    """A new `shotwire` app with the SDK's commands. `secret_fallback`: the webhook secret `listen` uses when
    none is given (none here; the repository's tooling gives the local dev stack's)."""
    app = typer.Typer(
        name="shotwire",
        help="shotwire: screenshots of web pages through the shotwire API. Docs: docs/cli.md.",
        cls=ShotwireGroup,
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_enable=False,
        add_completion=False,
        context_settings={"obj": secret_fallback},
    )
    app.callback()(root)
    for name, function, panel in COMMANDS:
        app.command(name, rich_help_panel=panel)(function)
    return app


app = create_app()
