"""Commands that need a shotwire checkout (the repository): `dev` runs the local stack, `keys`/`tenants`
use the admin CLI. The SDK itself never imports the checkout's packages (boto3, moto, playwright)."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import NoReturn

from shotwire.cli.output import ExitCode, fail

__all__ = ["find_checkout", "import_from_checkout", "run_dev"]

CHECKOUT_HINT = "run it from a shotwire checkout (the repository, set up by `make dev`), e.g. `cd shotwire && make dev`"


def find_checkout(start: Path | None = None) -> Path | None:
    """The repository root at or above `start` (default: the current directory), if any."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        if (directory / "devstack" / "__main__.py").is_file() and (directory / "admin" / "__main__.py").is_file():
            return directory
    return None


def import_from_checkout(module: str, what: str) -> ModuleType:
    """Import `module` (e.g. devstack.cli) from the installed path or, failing that, from a checkout around
    the current directory; exit 3 with a clear message when there is none or its packages are missing."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as first:
        missing = first.name or ""
        if missing.split(".")[0] not in (module.split(".")[0], "shotwire_core"):
            _missing_packages(what, missing)
    root = find_checkout()
    if root is None:
        fail(f"`shotwire {what}` needs a shotwire checkout", ExitCode.AUTH, hint=CHECKOUT_HINT)
    for path in (root / "layers" / "shared" / "python", root):
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        _missing_packages(what, error.name or str(error))


def _missing_packages(what: str, missing: str) -> NoReturn:
    fail(
        f"`shotwire {what}` needs the checkout's development packages (missing: {missing})",
        ExitCode.AUTH,
        hint="use the checkout's venv, which `make dev` sets up: .venv/bin/python -m shotwire.cli",
    )


def run_dev(*, port: int | None, moto_port: int | None) -> int:
    """`python -m devstack`: everything on this machine until Ctrl-C."""
    if port is not None:
        os.environ["SHOTWIRE_PORT"] = str(port)
    if moto_port is not None:
        os.environ["SHOTWIRE_MOTO_PORT"] = str(moto_port)
    devstack_cli = import_from_checkout("devstack.cli", "dev")
    code: int = devstack_cli.main()
    return code
