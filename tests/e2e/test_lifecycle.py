"""`make dev` as a process: ready on /health, no terminal needed, nothing left behind after SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT
from tests.support import PageServer, free_ports

pytestmark = pytest.mark.e2e


def _processes() -> dict[int, tuple[int, str, str]]:
    """pid -> (parent pid, state, command line) for every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        table[int(entry.name)] = (int(fields[1]), fields[0], cmdline)
    return table


def _descendants(root: int) -> dict[int, str]:
    table = _processes()
    found: dict[int, str] = {}
    for pid, (_, _, cmdline) in table.items():
        parent = pid
        while parent > 1:
            parent = table.get(parent, (0, "", ""))[0]
            if parent == root:
                found[pid] = cmdline
                break
    return found


def _alive(pids: list[int]) -> list[int]:
    table = _processes()
    return [pid for pid in pids if pid in table and table[pid][1] != "Z"]


def test_sigterm_leaves_no_chromium_or_moto_behind(tmp_path: Path) -> None:
    api_port, moto_port = free_ports(2)
    env = {
        **os.environ,
        "SHOTWIRE_PORT": str(api_port),
        "SHOTWIRE_MOTO_PORT": str(moto_port),
        "PYTHONPATH": f"{ROOT / 'layers' / 'shared' / 'python'}{os.pathsep}{ROOT}",
    }
    log = (tmp_path / "dev.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "devstack"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    api = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(api + "/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        with PageServer({"/": "<p>hello</p>"}).running() as base:
            request = urllib.request.Request(
                api + "/v1/screenshots",
                method="POST",
                data=json.dumps({"url": base + "/"}).encode(),
                headers={"Authorization": "Bearer sw_dev_local_key_0123456789", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                job_id = json.loads(response.read())["jobId"]
            while time.monotonic() < deadline:  # Chromium is running once the job completes
                get = urllib.request.Request(
                    api + f"/v1/screenshots/{job_id}", headers={"Authorization": "Bearer sw_dev_local_key_0123456789"}
                )
                with urllib.request.urlopen(get, timeout=10) as response:
                    if json.loads(response.read())["status"] == "completed":
                        break
                time.sleep(0.1)
        children = _descendants(process.pid)
        chromium = [pid for pid, cmd in children.items() if "chrom" in cmd.lower()]
        assert chromium, children

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
        time.sleep(0.5)
        assert _alive(list(children)) == []
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{moto_port}/", timeout=2)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
