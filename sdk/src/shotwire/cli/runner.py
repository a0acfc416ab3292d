"""Run the typer app as a process would: parse, dispatch, and map whatever escapes to an exit code."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer.main

from shotwire.cli.errors import report
from shotwire.cli.output import ExitCode, State, err

if TYPE_CHECKING:
    import typer


def run(argv: list[str] | None = None, app: typer.Typer | None = None) -> int:
    """Run `app` (default: the SDK's; devstack/shotwire_cli.py passes the repository's) with `argv`."""
    if app is None:
        from shotwire.cli.app import app as sdk_app

        app = sdk_app

    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        # standalone_mode: click prints usage errors (exit 2), --help, and turns typer.Exit into the code.
        command.main(args=args, prog_name="shotwire", standalone_mode=True)
    except SystemExit as stop:
        return _code(stop.code)
    except KeyboardInterrupt:  # between commands' own handlers, e.g. while parsing
        err.print("[yellow]interrupted[/]")
        return int(ExitCode.INTERRUPTED)
    except Exception as error:
        state = State()
        state.debug = state.debug or "--debug" in args  # State() has read SHOTWIRE_DEBUG
        return int(report(error, state))
    return 0


def _code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


__all__ = ["run"]
