"""`make dev` as a process: ready on /health, no terminal needed, nothing left behind after SIGTERM."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support import PageServer, devstack_process

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
    key = "sw_dev_local_key_0123456789"
    with (tmp_path / "dev.log").open("wb") as log, devstack_process({}, log) as running:
        api, process = running.api_url, running.process
        with PageServer({"/": "<p>hello</p>"}).running() as base:
            request = urllib.request.Request(
                api + "/v1/screenshots",
                method="POST",
                data=json.dumps({"url": base + "/"}).encode(),
                headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                job_id = json.loads(response.read())["jobId"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # Chromium is running once the job completes
                get = urllib.request.Request(
                    api + f"/v1/screenshots/{job_id}", headers={"Authorization": f"Bearer {key}"}
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
            urllib.request.urlopen(running.moto_url + "/", timeout=2)
