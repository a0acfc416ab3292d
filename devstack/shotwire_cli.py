"""The repository's own `shotwire` (`.venv/bin/shotwire`, which `make dev` runs): the SDK's command plus
what needs this checkout.

- `dev`: the whole service on this machine (`python -m devstack`);
- `keys …`, `tenants …`: the admin CLI (admin/cli.py, `python -m admin`);
- `listen` without --secret verifies with the local dev stack's webhook secret (SHOTWIRE_DEV_WEBHOOK_SECRET
  or its public default, which it refuses on an address other machines can reach).

The SDK (sdk/, `pip install "./sdk[cli]"`) imports nothing of this repository; this module builds on its typer
app (`create_app`) instead, so the dependency goes one way: devstack and admin use the SDK, never the reverse.
`python -m devstack.shotwire_cli …` is the same command without the wrapper.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from admin.cli import keys_app, tenants_app
from devstack.options import DEFAULT_DEV_WEBHOOK_SECRET
from shotwire.cli.app import create_app
from shotwire.cli.common import command_options
from shotwire.cli.listen import SecretFallback
from shotwire.cli.output import ExitCode, fail

__all__ = ["DEV_SECRET", "app", "build_app", "main"]

LOCAL = "Local stack and administration"


def dev_webhook_secret() -> str:
    """The secret the local stack signs with (devstack.options.DevOptions reads the same)."""
    return os.environ.get("SHOTWIRE_DEV_WEBHOOK_SECRET", "").strip() or DEFAULT_DEV_WEBHOOK_SECRET


DEV_SECRET = SecretFallback(
    description="the local dev stack's webhook secret",
    secret=dev_webhook_secret,
    public=frozenset({DEFAULT_DEV_WEBHOOK_SECRET}),
)


@command_options(api=False)
def dev(
    port: Annotated[int | None, typer.Option("--port", help="API port (SHOTWIRE_PORT, default 8000).")] = None,
    moto_port: Annotated[
        int | None, typer.Option("--moto-port", help="Local AWS port (SHOTWIRE_MOTO_PORT, default 8001).")
    ] = None,
) -> None:
    """Run the whole service locally until Ctrl-C (what `make dev` runs)."""
    if port is not None:
        os.environ["SHOTWIRE_PORT"] = str(port)
    if moto_port is not None:
        os.environ["SHOTWIRE_MOTO_PORT"] = str(moto_port)
    try:  # moto, boto3, Playwright: imported only for this command
        from devstack.cli import main as run_stack
    except ModuleNotFoundError as error:
        fail(
            f"`shotwire dev` needs the checkout's development packages (missing: {error.name})",
            ExitCode.AUTH,
            hint="use the checkout's venv, which `make dev` sets up: .venv/bin/shotwire dev",
        )
    code = run_stack()
    if code:
        raise typer.Exit(code)


def build_app() -> typer.Typer:
    """The SDK's app with the local dev secret for `listen`, plus `dev`, `keys` and `tenants`."""
    tool = create_app(secret_fallback=DEV_SECRET)
    tool.command("dev", rich_help_panel=LOCAL)(dev)
    tool.add_typer(keys_app, name="keys", rich_help_panel=LOCAL)
    tool.add_typer(tenants_app, name="tenants", rich_help_panel=LOCAL)
    return tool


app = build_app()


def main(argv: list[str] | None = None) -> int:
    """`.venv/bin/shotwire` (the Makefile writes it): run `argv` (default: the process's arguments)."""
    from shotwire.cli.runner import run

    return run(argv, app)


if __name__ == "__main__":
    raise SystemExit(main())
