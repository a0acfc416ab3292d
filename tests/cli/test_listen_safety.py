"""`shotwire listen` facing hostile input: event ids that look like paths, the hex header alone (a replay
with the timestamped headers stripped), broken Content-Length headers, and the public dev secret on an
address other machines can reach."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shotwire.cli.listen import image_name
from tests.cli.conftest import SECRET, Cli, post_status, signed, wait_until_listening
from tests.support import PageServer, free_port


@pytest.fixture
def listener(offline_cli: Cli, tmp_path: Path) -> Iterator[tuple[str, Path, subprocess.Popen[str]]]:
    out = tmp_path / "out"
    port = free_port()
    process = subprocess.Popen(
        Cli.command("listen", "--port", str(port), "--out", str(out), "--json"),
        env=offline_cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(base + "/", process)
        yield base, out, process
    finally:
        process.terminate()
        process.communicate(timeout=20)


def _completed(job_id: str, image_url: str) -> bytes:
    event = {"jobId": job_id, "status": "completed", "url": "https://example.com/", "screenshotUrl": image_url}
    return json.dumps(event).encode()


def test_event_ids_never_become_paths(listener: tuple[str, Path, subprocess.Popen[str]], tmp_path: Path) -> None:
    base, out, _ = listener
    with PageServer({"/img": "not really a png"}).running() as images:
        for number, job_id in enumerate(["../escaped", str(tmp_path / "absolute"), "job_ok-1"]):
            body = _completed(job_id, images + "/img")
            assert post_status(base + "/hook", body, signed(body, SECRET, f"msg_{number}")) == 204
        expected = {image_name("../escaped", None), image_name(str(tmp_path / "absolute"), None), "job_ok-1.png"}
        deadline = time.monotonic() + 20
        while {path.name for path in out.glob("*.png")} != expected:
            assert time.monotonic() < deadline, sorted(out.iterdir()) if out.exists() else "no --out"
            time.sleep(0.1)
    assert not (tmp_path / "escaped.png").exists()
    assert not (tmp_path / "absolute.png").exists()
    assert all(name.startswith("event-") for name in expected - {"job_ok-1.png"})


def test_the_hex_header_alone_is_refused(listener: tuple[str, Path, subprocess.Popen[str]]) -> None:
    base, _, _ = listener
    body = json.dumps({"type": "webhook.test", "webhookId": "msg_9"}).encode()
    hex_only = {k: v for k, v in signed(body, SECRET, "msg_9").items() if not k.startswith("webhook-")}
    assert post_status(base + "/hook", body, hex_only) == 401


@pytest.mark.parametrize("length", ["abc", "-1", "1e3", "\u00b2", "9" * 5000])
def test_a_broken_content_length_is_a_400_not_a_traceback(
    listener: tuple[str, Path, subprocess.Popen[str]], length: str
) -> None:
    base, _, process = listener
    port = int(base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(f"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode("latin-1"))
        response = http.client.HTTPResponse(connection)
        response.begin()
        assert response.status == 400
    assert process.poll() is None  # still serving


@pytest.mark.parametrize("given", [None, "default"])
def test_the_public_dev_secret_is_refused_off_loopback(offline_cli: Cli, given: str | None) -> None:
    """Whether it comes as the fallback or is passed explicitly: it is in this repository."""
    from devstack.options import DEFAULT_DEV_WEBHOOK_SECRET

    secret = DEFAULT_DEV_WEBHOOK_SECRET if given else None
    env = {"SHOTWIRE_WEBHOOK_SECRET": secret, "SHOTWIRE_DEV_WEBHOOK_SECRET": None}
    result = offline_cli.invoke("listen", "--host", "0.0.0.0", "--port", "0", env=env)  # type: ignore[arg-type]
    assert result.exit_code == 2, result.output
    assert "reachable from other machines" in result.stderr and "Traceback" not in result.output
