"""Runs the local stack exactly as `make dev` does (python -m devstack) in a subprocess, on free ports."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support import PageServer, WebhookReceiver, devstack_process

API_KEY = "sw_test_key_for_e2e_0001"
SECRET = "whsec_dGVzdC1zZWNyZXQtZm9yLWUyZS10ZXN0cy0wMQ=="

PAGES = {
    "/simple": "<html><head><title>Simple</title></head><body style='margin:0;background:#36c'>"
    "<h1 style='color:white'>shotwire</h1></body></html>",
    "/tall": "<html><head><title>Tall</title></head><body style='margin:0'>"
    "<div style='height:2600px;background:linear-gradient(#f00,#00f)'></div></body></html>",
}


@dataclass
class Stack:
    api_url: str
    moto_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        key: str | None = API_KEY,
        raw: bytes | None = None,
    ) -> tuple[int, dict[str, Any]]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            all_headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.api_url + path, data=data, method=method, headers=all_headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def aws(self, service: str) -> Any:
        """A boto3 client for this stack's moto server."""
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def wait_job(self, job_id: str, predicate: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        job: dict[str, Any] = {}
        while time.monotonic() < deadline:
            _, job = self.request("GET", f"/v1/screenshots/{job_id}")
            if predicate(job):
                return job
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} never reached the expected state; last seen: {job}")


@contextmanager
def running_stack(log_path: Path, settings: dict[str, str]) -> Iterator[Stack]:
    """`python -m devstack` with the tests' key and secret, private networks allowed, and `settings` on top;
    a stack that fails to start shows the end of its log."""
    env = {
        "SHOTWIRE_DEV_API_KEY": API_KEY,
        "SHOTWIRE_DEV_WEBHOOK_SECRET": SECRET,
        "SHOTWIRE_ALLOW_PRIVATE_NETWORKS": "1",
        **settings,
    }
    with log_path.open("wb") as log:
        try:
            with devstack_process(env, log) as running:
                yield Stack(running.api_url, running.moto_url, running.process, log_path)
        except RuntimeError as error:
            raise RuntimeError(f"{error}:\n{log_path.read_text(errors='replace')[-4000:]}") from error


QUICK_SETTINGS = {
    # Three attempts, one then two seconds apart: retries and the DLQ without waiting minutes.
    "SHOTWIRE_WEBHOOK_RETRY_SCHEDULE": "1,2",
    "SHOTWIRE_CAPTURE_TIMEOUT_MS": "15000",
    "SHOTWIRE_WEBHOOK_TIMEOUT_SECONDS": "2",  # a hanging receiver costs 2 s, not 15
}


def quick_stack(tmp_path_factory: pytest.TempPathFactory, name: str) -> AbstractContextManager[Stack]:
    """A stack with QUICK_SETTINGS, logging to a temporary `<name>/devstack.log`."""
    return running_stack(tmp_path_factory.mktemp(name) / "devstack.log", QUICK_SETTINGS)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with quick_stack(tmp_path_factory, "devstack") as running:
        yield running


@pytest.fixture(scope="session")
def pages() -> Iterator[str]:
    with PageServer(PAGES).running() as base_url:
        yield base_url


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver().running() as running:
        yield running
