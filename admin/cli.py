"""`shotwire keys …` and `shotwire tenants …` of the repository's own `shotwire` (devstack/shotwire_cli.py):
`python -m admin` with rich tables and --json. `admin.__main__` (boto3) is imported only when one of them
runs, so the other commands start as fast as the SDK's."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stderr, redirect_stdout
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shotwire.cli.common import command_options, current_state
from shotwire.cli.output import ExitCode, err, fail, out, print_json

__all__ = ["keys_app", "tenants_app"]

keys_app = typer.Typer(help="API keys: create, list, revoke (admin).", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants: create, list (admin).", no_args_is_help=True)

LocalOption = Annotated[
    bool, typer.Option("--local", help="The local stack (`make dev`, moto on SHOTWIRE_MOTO_PORT) instead of AWS.")
]
RegionOption = Annotated[str | None, typer.Option("--region", help="AWS region (default AWS_DEFAULT_REGION).")]


def _run_admin(local: bool, region: str | None, argv: list[str]) -> list[dict[str, Any]]:
    """Run `python -m admin` in-process; its JSON lines, or exit with its message and our exit code."""
    try:
        from admin.__main__ import main as admin_main
    except ModuleNotFoundError as error:
        fail(
            f"the admin commands need the checkout's development packages (missing: {error.name})",
            ExitCode.AUTH,
            hint="use the checkout's venv, which `make dev` sets up: .venv/bin/shotwire",
        )
    full = (["--local"] if local else []) + (["--region", region] if region else []) + argv
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            code = admin_main(full)
    except SystemExit as stop:  # argparse
        code = stop.code if isinstance(stop.code, int) else 2
    except Exception as error:  # boto3/botocore errors, imported lazily
        _aws_error(error, local)
    message = stderr.getvalue().strip()
    if code:
        not_found = message.startswith("no ")
        fail(message or f"admin command failed ({code})", ExitCode.NOT_FOUND if not_found else ExitCode.USAGE)
    if message:
        err.print(f"[yellow]{escape(message)}[/]")
    return [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]


def _aws_error(error: Exception, local: bool) -> None:
    name = type(error).__name__
    if name in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError"):
        fail(
            f"cannot reach {'the local stack' if local else 'AWS'}: {error}",
            ExitCode.UNAVAILABLE,
            hint="is `make dev` (or `shotwire dev`) running? Set SHOTWIRE_MOTO_PORT if it uses another port"
            if local
            else None,
        )
    if name in ("NoCredentialsError", "NoRegionError", "PartialCredentialsError"):
        fail(f"AWS is not configured: {error}", ExitCode.AUTH, hint="pass --local for the local stack (`make dev`)")
    if name == "ClientError":
        code = getattr(error, "response", {}).get("Error", {}).get("Code", "")
        if code == "ResourceNotFoundException":
            fail(f"the stack's tables are missing: {error}", ExitCode.AUTH, hint="deploy the stack or run `make dev`")
        fail(f"AWS refused: {error}", ExitCode.AUTH if "AccessDenied" in code else ExitCode.UNAVAILABLE)
    raise error


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> Table:
    table = Table(box=None, header_style="bold")
    for title, _ in columns:
        table.add_column(title)
    for row in rows:
        table.add_row(*(escape(str(row.get(key, "") if row.get(key) is not None else "")) for _, key in columns))
    return table


@keys_app.command("create")
@command_options(api=False)
def keys_create(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant id (`dev` locally).", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="A label, e.g. where the key is used.")] = "",
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Issue another API key for a tenant (shown once)."""
    (record,) = _run_admin(local, region, ["keys", "create", "--tenant", tenant, "--name", name])
    if current_state().json:
        print_json(record)
        return
    out.print(f"[bold]{escape(record['apiKey'])}[/]")
    err.print(f"key {record.get('keyId')} for tenant {record.get('tenantId')} - store it now: it is not shown again")


@keys_app.command("list")
@command_options(api=False)
def keys_list(
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant's keys.")] = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """List API keys by id and hint, with their state."""
    rows = _run_admin(local, region, ["keys", "list", *(["--tenant", tenant] if tenant else [])])
    if current_state().json:
        print_json(rows)
        return
    for row in rows:
        row["state"] = "revoked" if row.get("revokedAt") else "active"
    out.print(
        _table(
            rows,
            [
                ("key", "keyId"),
                ("tenant", "tenantId"),
                ("name", "name"),
                ("hint", "hint"),
                ("state", "state"),
                ("created", "createdAt"),
            ],
        )
    )


@keys_app.command("revoke")
@command_options(api=False)
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (from `keys list`).", show_default=False)],
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Stop an API key from working."""
    (record,) = _run_admin(local, region, ["keys", "revoke", key_id])
    if current_state().json:
        print_json(record)
        return
    out.print(f"revoked {escape(str(record.get('keyId')))} ({escape(str(record.get('revokedAt')))})")


@tenants_app.command("create")
@command_options(api=False)
def tenants_create(
    name: Annotated[str, typer.Option("--name", help="The customer's name.", show_default=False)],
    requests_per_second: Annotated[float | None, typer.Option("--requests-per-second")] = None,
    burst: Annotated[int | None, typer.Option("--burst")] = None,
    monthly_quota: Annotated[int | None, typer.Option("--monthly-quota", help="Captures per month.")] = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Create a tenant with its webhook secret and first API key (both shown once)."""
    argv = ["tenants", "create", "--name", name]
    for flag, value in (
        ("--requests-per-second", requests_per_second),
        ("--burst", burst),
        ("--monthly-quota", monthly_quota),
    ):
        if value is not None:
            argv += [flag, str(value)]
    (record,) = _run_admin(local, region, argv)
    if current_state().json:
        print_json(record)
        return
    table = Table(show_header=False, box=None)
    for label, key in (
        ("tenant", "tenantId"),
        ("name", "name"),
        ("API key", "apiKey"),
        ("key id", "keyId"),
        ("webhook secret", "webhookSecret"),
    ):
        table.add_row(f"[bold]{label}[/]", escape(str(record.get(key, ""))))
    out.print(table)


@tenants_app.command("list")
@command_options(api=False)
def tenants_list(local: LocalOption = False, region: RegionOption = None) -> None:
    """List tenants (secrets not shown)."""
    rows = _run_admin(local, region, ["tenants", "list"])
    if current_state().json:
        print_json(rows)
        return
    for row in rows:
        limits = row.get("limits") or {}
        row["limits_text"] = (
            f"{limits.get('requestsPerSecond', '?')}/s burst {limits.get('burst', '?')}, "
            f"{limits.get('monthlyQuota', '?')}/month"
        )
    out.print(
        _table(rows, [("tenant", "tenantId"), ("name", "name"), ("limits", "limits_text"), ("created", "createdAt")])
    )
