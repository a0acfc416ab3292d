"""Reading the input (text, CSV or JSONL; a file or stdin) into rows, checked before anything is submitted."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from shotwire import APIError
from shotwire.cli.batch.files import assign_files
from shotwire.cli.batch.model import InputError, Row
from shotwire.cli.options import API_FIELDS, coerce_option, normalise_key
from shotwire.cli.output import ExitCode, fail

__all__ = ["detect_format", "parse_rows", "read_source", "validate"]

FILE_KEYS = ("file", "filename", "output")
URL_KEYS = ("url", "urls")  # the url column or key; a first line that is just this is a one-column CSV's header
NO_HEADER = "the CSV needs a header row with a url column (e.g. url,width,full_page)"


def read_source(source: str) -> tuple[str, str]:
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
        return "csv" if first_cell in URL_KEYS else "text"  # a header: `url,width,...`, or `url` alone
    return "text"


def parse_rows(text: str, kind: str, defaults: dict[str, Any]) -> list[Row]:
    """The rows of a text, CSV or JSONL input, with `defaults` under each row's own options, each with its
    file in --out."""
    rows: list[Row] = []
    if kind == "text":
        for number, line in _lines(text):
            rows.append(Row(number, line.split()[0], dict(defaults)))
    elif kind == "csv":
        for number, record in _csv_records(text):
            url, options, file_name = _row_options(record, f"line {number}")
            if url:
                rows.append(Row(number, url, {**defaults, **options}, file_name))
    elif kind == "jsonl":
        for number, line in _lines(text):
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
    assign_files(rows)
    return rows


def validate(rows: list[Row]) -> None:
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


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based number, stripped line) of each line that is neither blank nor a `#` comment."""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line and not line.startswith("#"):
            yield number, line


def _row_options(raw: dict[str, Any], where: str) -> tuple[str, dict[str, Any], str]:
    """(url, options, file) of one CSV record or JSON object; InputError naming the place."""
    url = ""
    options: dict[str, Any] = {}
    file_name = ""
    for key, value in raw.items():
        if key is None:
            raise InputError(f"{where}: more cells than the header has columns")
        name = normalise_key(str(key))
        if name in URL_KEYS:
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
            if not {normalise_key(name) for name in header} & set(URL_KEYS):
                raise InputError(NO_HEADER)
            continue
        if len(cells) > len(header):
            raise InputError(f"line {number}: more cells than the header has columns")
        yield number, {name: cells[i] if i < len(cells) else None for i, name in enumerate(header)}
    if header is None:
        raise InputError(NO_HEADER)
