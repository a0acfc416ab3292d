"""Output and exit codes: rich for people, one JSON document (or JSON lines) on stdout for scripts.

Everything a person reads goes through `out` (stdout) or `err` (stderr). In `--json` mode stdout carries
only JSON: progress bars, hints and errors go to stderr.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

__all__ = [
    "ExitCode",
    "State",
    "err",
    "fail",
    "human_size",
    "jsonable",
    "out",
    "print_json",
    "print_json_line",
]


class ExitCode(IntEnum):
    """The process exit codes of every `shotwire` command (documented in docs/cli.md)."""

    OK = 0
    FAILED = 1  # a capture or job failed, or did not finish in time; a batch with failed rows
    USAGE = 2  # bad arguments or input file, invalid request (422/400/413/415), conflict (409)
    AUTH = 3  # no API key, unknown or revoked key (401/403), missing checkout or admin setup
    NOT_FOUND = 4  # no such job, batch, tenant or key (404)
    UNAVAILABLE = 5  # API unreachable, 5xx, rate limited after retries, other transport errors
    INTERRUPTED = 130  # Ctrl-C / SIGINT / SIGTERM


out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclasses.dataclass
class State:
    """Options given before the command (`shotwire --json capture …`) or on it (`shotwire capture … --json`)."""

    json: bool = False
    debug: bool = dataclasses.field(default_factory=lambda: os.environ.get("SHOTWIRE_DEBUG", "") not in ("", "0"))
    api_key: str | None = None
    api_url: str | None = None


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of SDK objects (pydantic models, dataclasses), paths, dates and enums."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    dump = getattr(value, "model_dump", None)
    if callable(dump):  # pydantic: the API's own camelCase names where the model has aliases
        return jsonable(dump(mode="json", by_alias=True))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: jsonable(getattr(value, field.name)) for field in dataclasses.fields(value)}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    if hasattr(value, "__dict__"):
        return {key: jsonable(item) for key, item in vars(value).items() if not key.startswith("_")}
    return str(value)


def print_json(value: Any) -> None:
    """The one JSON document a `--json` command prints."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def print_json_line(value: Any) -> None:
    """One line of a JSON-lines stream (`listen --json`)."""
    sys.stdout.write(json.dumps(jsonable(value), separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(message: str, code: ExitCode, hint: str | None = None) -> NoReturn:
    """Print a one-line error (and an optional hint) to stderr and exit with `code`."""
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if hint:
        err.print(f"[dim]hint: {escape(hint)}[/]", soft_wrap=True)
    raise typer.Exit(int(code))


def human_size(size: int | float | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@contextmanager
def status_spinner(message: str, *, enabled: bool) -> Iterator[Any]:
    """A spinner on stderr while waiting (only on a terminal and not in --json mode)."""
    if enabled and err.is_terminal:
        with err.status(message) as status:
            yield status
    else:
        yield None
