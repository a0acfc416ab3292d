"""The `shotwire` command-line tool (`pip install "./sdk[cli]"` from a checkout; docs/cli.md).

It imports nothing outside the SDK: the repository's own `shotwire` (`.venv/bin/shotwire`,
devstack/shotwire_cli.py) builds on this app and adds `dev`, `keys` and `tenants`.

`main()` is the console script's entry point: it runs the typer app and turns every error into a
one-line message and a documented exit code (a traceback only with --debug or SHOTWIRE_DEBUG=1).
"""

from __future__ import annotations

import sys

__all__ = ["main", "version"]


def version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as installed

        try:
            return installed("shotwire")
        except PackageNotFoundError:
            pass
    except ImportError:  # pragma: no cover
        pass
    from shotwire._version import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    """Run `shotwire` with `argv` (default: the process's arguments); return the exit code."""
    try:
        import rich  # noqa: F401
        import typer  # noqa: F401
    except ImportError as error:
        print(
            f"error: the shotwire command needs typer and rich ({error.name} is missing)\n"
            'hint: pip install "./sdk[cli]" from the shotwire checkout (or pip install typer rich)',
            file=sys.stderr,
        )
        return 3
    from shotwire.cli.runner import run

    return run(argv)
