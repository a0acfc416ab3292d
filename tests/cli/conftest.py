"""Fixtures of the CLI tests: one local stack for the package (started only when an e2e test asks for it,
torn down after the CLI tests), the e2e pages and receiver, 200 tiny pages, and ways to run `shotwire`
in-process (typer's CliRunner) or as a real process (`python -m devstack.shotwire_cli`).

`Cli` runs the repository's `shotwire` (`.venv/bin/shotwire`, devstack/shotwire_cli.py): the SDK's commands
plus `dev`, `keys` and `tenants`. test_installed.py runs the SDK's own, installed outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from shotwire_core.signing import signature_headers
from tests.e2e.conftest import API_KEY, PAGES, SECRET, Stack, quick_stack, receiver
from tests.support import ROOT, PageServer

SDK_SRC = ROOT / "sdk" / "src"
if str(SDK_SRC) not in sys.path:  # until the venv puts sdk/src on the path itself
    sys.path.insert(0, str(SDK_SRC))

from typer.testing import CliRunner  # noqa: E402

from devstack.shotwire_cli import app  # noqa: E402

__all__ = ["API_KEY", "SECRET", "receiver"]

BATCH_PAGES = 200


def tiny_page(number: int) -> str:
    hue = number * 37 % 360
    return (
        f"<html><head><title>p{number}</title></head>"
        f"<body style='margin:0;background:hsl({hue},70%,50%)'><b>{number}</b></body></html>"
    )


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`python -m devstack` as `make dev` runs it, for the CLI tests only."""
    with quick_stack(tmp_path_factory, "cli-devstack") as running:
        yield running


@pytest.fixture(scope="package")
def site() -> Iterator[str]:
    """The e2e pages plus /p/0 … /p/199: tiny pages, so a 200-row batch is about the pipeline, not Chromium."""
    pages = {**PAGES, **{f"/p/{n}": tiny_page(n) for n in range(BATCH_PAGES)}}
    with PageServer(pages).running() as base_url:
        yield base_url


@dataclass
class Cli:
    """`shotwire` against one stack: in-process (`invoke`) or as a process (`command`, `env`)."""

    stack: Stack | None
    runner: CliRunner

    @property
    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(SDK_SRC), str(ROOT / "layers" / "shared" / "python"), str(ROOT)]),
            "SHOTWIRE_WEBHOOK_SECRET": SECRET,
            "COLUMNS": "200",
        }
        env.pop("SHOTWIRE_DEBUG", None)
        if self.stack is not None:
            env["SHOTWIRE_API_KEY"] = API_KEY
            env["SHOTWIRE_API_URL"] = self.stack.api_url
            env["SHOTWIRE_MOTO_PORT"] = self.stack.moto_url.rsplit(":", 1)[1]
        return env

    def invoke(self, *args: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
        return self.runner.invoke(app, list(args), env={**self.env, **(env or {})}, **kwargs)

    @staticmethod
    def command(*args: str) -> list[str]:
        return [sys.executable, "-m", "devstack.shotwire_cli", *args]

    def run(
        self, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            env={**self.env, **(env or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@pytest.fixture
def cli(stack: Stack) -> Cli:
    return Cli(stack, CliRunner())


@pytest.fixture
def offline_cli() -> Cli:
    """No stack: for usage errors, input parsing and the receiver."""
    return Cli(None, CliRunner())


# --- talking to `shotwire listen` --------------------------------------------------------------------------


def signed(body: bytes, secret: str, message_id: str = "msg_test") -> dict[str, str]:
    """The headers the dispatcher sends with `body` now (signed by the server's own code)."""
    return {"Content-Type": "application/json", **signature_headers(secret, message_id, int(time.time()), body)}


def post_status(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST `body` and return the status code, error or not."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def wait_until_listening(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("listen did not start")
