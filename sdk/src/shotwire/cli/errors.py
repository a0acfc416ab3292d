"""One place that turns exceptions into a one-line message on stderr and a documented exit code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.markup import escape

from shotwire import APIError, CaptureFailed, ConfigurationError, ShotwireError, TransportError, WaitTimeout
from shotwire.cli.output import ExitCode, State, err

__all__ = ["exit_code_for", "handle_errors", "report"]

API_KEY_HINT = "pass --api-key or set SHOTWIRE_API_KEY (`make dev` prints the local dev key)"


def exit_code_for(error: BaseException) -> ExitCode:
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, APIError):
        if error.status in (401, 403):
            return ExitCode.AUTH
        if error.status == 404:
            return ExitCode.NOT_FOUND
        if error.status == 429 or error.status >= 500:
            return ExitCode.UNAVAILABLE
        if error.status < 400:  # an answer the SDK could not read (`invalid_response`): unexpected
            return ExitCode.FAILED
        return ExitCode.USAGE  # 400, 409, 413, 415, 422 (also a client-side InvalidRequestError)
    if isinstance(error, ConfigurationError):
        return ExitCode.AUTH
    if isinstance(error, CaptureFailed | WaitTimeout):
        return ExitCode.FAILED
    if isinstance(error, TransportError):  # the API could not be reached, or its answer read
        return ExitCode.UNAVAILABLE
    if isinstance(error, ShotwireError):
        # Any other SDK error (a job with no image, a bad webhook signature, a request that could not be
        # made): unexpected, not a connection problem.
        return ExitCode.FAILED
    if isinstance(error, ConnectionError | TimeoutError):
        return ExitCode.UNAVAILABLE
    if isinstance(error, OSError):
        return ExitCode.USAGE  # a file that cannot be read or written
    return ExitCode.FAILED


def _message(error: BaseException) -> tuple[str, str | None]:
    """The one-line message and an optional hint."""
    if isinstance(error, APIError):
        problems = [
            f"{problem.get('field', '?')}: {problem.get('message') or problem.get('rule')}"
            for problem in error.details or []
            if isinstance(problem, dict)
        ]
        if getattr(error, "client_side", False):  # nothing was sent; the message already lists the problems
            text = error.message
        else:
            text = f"{error.message or error.code} ({error.status} {error.code})"
            missing = [problem for problem in problems if problem.split(": ", 1)[-1] not in text]
            if missing:
                text += " - " + "; ".join(missing)
        hint = None
        if error.status == 401:
            hint = API_KEY_HINT
        retry_after = getattr(error, "retry_after", None)
        if error.status == 429 and retry_after:
            hint = f"retry after {retry_after:g} s"
        return text, hint
    if isinstance(error, ConfigurationError):
        if str(error).startswith("no API key"):
            return "no API key", API_KEY_HINT
        return str(error), None
    if isinstance(error, WaitTimeout):
        return str(error), f"the job keeps running: `shotwire status {error.job_id}` shows it later"
    if isinstance(error, TransportError):
        import httpx  # loaded already: it raised the cause

        if error.__cause__ is not None and not isinstance(error.__cause__, httpx.TransportError):
            return f"bad answer from the API: {error}", None  # DecodingError, TooManyRedirects
        return (
            f"cannot reach the API: {error}",
            "is the API running (`make dev`)? Check --api-url / SHOTWIRE_API_URL",
        )
    if isinstance(error, OSError) and not isinstance(error, ConnectionError | TimeoutError):
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror or error}", None
    if isinstance(error, ShotwireError | OSError):
        return str(error), None
    return f"unexpected {type(error).__name__}: {error}", "run again with --debug (or SHOTWIRE_DEBUG=1) for a traceback"


def report(error: BaseException, state: State) -> ExitCode:
    """Print `error` as one line on stderr (a traceback too with --debug) and return its exit code."""
    code = exit_code_for(error)
    if state.debug:
        err.print(escape("".join(traceback.format_exception(error))), end="")
    if code == ExitCode.INTERRUPTED:
        err.print("[yellow]interrupted[/]")
        return code
    message, hint = _message(error)
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err.print(f"[dim]hint: {escape(hint)}[/]", soft_wrap=True)
    return code


def _click_exception() -> type[Exception]:
    """Usage errors' base class: click's ClickException (vendored inside typer since 0.29)."""
    for klass in typer.BadParameter.__mro__:
        if klass.__name__ == "ClickException":
            return klass
    return typer.BadParameter


PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, _click_exception())


@contextmanager
def handle_errors(state: State) -> Iterator[None]:
    """Around a command's body: SDK, file and interrupt errors become a message and `typer.Exit(code)`."""
    try:
        yield
    except PASS_THROUGH:  # exits and usage errors: typer shows them
        raise
    except (Exception, KeyboardInterrupt) as error:
        sys.stdout.flush()
        raise typer.Exit(int(report(error, state))) from None
