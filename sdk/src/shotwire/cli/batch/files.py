"""Where a batch writes in --out: each row's file name (refused when it clashes or escapes), and its own leftovers."""

from __future__ import annotations

import os
import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from shotwire.cli.batch.model import InputError, Row
from shotwire.cli.jobs import extension_for, slug

__all__ = ["REPORT_NAME", "assign_files", "check_inside", "remove_leftovers"]

REPORT_NAME = "report.jsonl"
# write_atomically's temporary files: `.{name}.{8 random characters of mkstemp}.part`
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[a-z0-9_]{8}\.part$")


def assign_files(rows: list[Row]) -> None:
    """Give each row its file: the name the input gives, else `<slug>-<key>.<ext>`. InputError when two
    different rows would write the same file."""
    for row in rows:
        row.file = _file_name(row)
    _check_files(rows)
    # Identical rows whose names differ only in case write one file: the first row's name.
    first_name: dict[str, str] = {}
    for row in rows:
        row.file = first_name.setdefault(row.file.casefold(), row.file)


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


def check_inside(out_dir: Path, rows: list[Row]) -> None:
    """Every image lands inside --out, even through a symbolic link in it."""
    root = out_dir.resolve()
    for row in rows:
        try:
            inside = (out_dir / row.file).resolve().is_relative_to(root)
        except (ValueError, OSError, RuntimeError) as error:  # a NUL, a name too long, a loop of links...
            raise InputError(f"line {row.line}: file {row.file!r} cannot be used: {error}") from None
        if not inside:
            raise InputError(f"line {row.line}: file {row.file!r} resolves outside {out_dir}")


def remove_leftovers(out_dir: Path, rows: list[Row]) -> None:
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
