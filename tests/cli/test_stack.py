"""`shotwire` against the local stack (`python -m devstack`, real HTTP): capture, jobs, keys, a 200-row
batch interrupted and resumed, and `listen` receiving real deliveries."""

from __future__ import annotations

import io
import json
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.cli.conftest import BATCH_PAGES, Cli, post_status
from tests.e2e.conftest import Stack
from tests.support import WebhookReceiver, closed_port, free_port, restore_sigint

pytestmark = pytest.mark.e2e


def _image(path: Path) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(path.read_bytes())) as decoded:
        return str(decoded.format), decoded.size


def _clean(result: Any) -> None:
    assert "Traceback" not in result.stdout + result.stderr


# --- capture --------------------------------------------------------------------------------------------


def test_capture_writes_a_png_of_the_requested_size_and_says_so(cli: Cli, site: str, tmp_path: Path) -> None:
    target = tmp_path / "shot.png"
    result = cli.invoke("capture", f"{site}/simple", "-o", str(target), "--width", "640", "--height", "400")
    assert result.exit_code == 0, result.stderr
    assert _image(target) == ("PNG", (640, 400))
    assert f"saved {target}" in result.stdout and "640x400 png" in result.stdout
    assert re.search(r"\d+(\.\d)? KB", result.stdout) and re.search(r"\d+\.\d s", result.stdout)
    _clean(result)


def test_capture_json_is_one_document_and_the_default_name_is_host_and_job(
    cli: Cli, site: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli.invoke("--json", "capture", f"{site}/tall", "-W", "300", "-H", "200", "--full-page")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    job_id = document["job"]["jobId"]
    port = site.rsplit(":", 1)[1]
    assert document["file"] == f"127.0.0.1_{port}-{job_id}.png"
    assert _image(tmp_path / document["file"]) == ("PNG", (300, 2600))  # full page: the whole height
    assert (document["width"], document["height"], document["bytes"]) == (
        300,
        2600,
        (tmp_path / document["file"]).stat().st_size,
    )


def test_capture_takes_the_format_from_the_file_name(cli: Cli, site: str, tmp_path: Path) -> None:
    result = cli.invoke("capture", f"{site}/simple", "-o", str(tmp_path / "shot.jpg"), "-W", "320", "-H", "240")
    assert result.exit_code == 0, result.stderr
    assert _image(tmp_path / "shot.jpg") == ("JPEG", (320, 240))


def test_a_failed_capture_exits_1_with_the_reason_and_the_failed_job_in_json(cli: Cli, tmp_path: Path) -> None:
    result = cli.invoke("capture", f"http://127.0.0.1:{closed_port()}/", "-o", str(tmp_path / "x.png"), "--json")
    assert result.exit_code == 1, result.stderr
    assert json.loads(result.stdout)["status"] == "failed"
    assert "connection_error" in result.stderr
    assert not (tmp_path / "x.png").exists()
    _clean(result)


@pytest.mark.parametrize("command", [["status"], ["deliveries"], ["redeliver"], ["delete"]])
def test_an_unknown_job_is_exit_4(cli: Cli, command: list[str]) -> None:
    result = cli.invoke(*command, "job_00000000000000000000000000")
    assert result.exit_code == 4, result.stderr
    assert "not_found" in result.stderr and result.stdout == ""
    _clean(result)


def test_a_wrong_key_is_exit_3_from_a_real_process(cli: Cli) -> None:
    result = cli.run("list", "--api-key", "sw_wrong_key_000000000000")
    assert result.returncode == 3, result.stderr
    assert "unauthorized" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("before_command", [True, False])
def test_the_api_url_option_beats_the_environment_before_or_after_the_command(cli: Cli, before_command: bool) -> None:
    option = ["--api-url", f"http://127.0.0.1:{closed_port()}"]
    result = cli.invoke(*([*option, "list"] if before_command else ["list", *option]))  # env: the running stack
    assert result.exit_code == 5, result.stdout
    assert "cannot reach the API" in result.stderr


def test_submit_status_list_deliveries_and_redeliver(cli: Cli, site: str, receiver: WebhookReceiver) -> None:
    hook = receiver.script("/cli-jobs", [200])
    submitted = cli.invoke("submit", f"{site}/simple", "--webhook-url", hook, "-W", "400", "-H", "300", "--json")
    assert submitted.exit_code == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["jobId"]

    waited = cli.invoke("status", job_id, "--wait", "--json")
    assert waited.exit_code == 0, waited.stderr
    job = json.loads(waited.stdout)
    assert job["status"] == "completed" and (job["width"], job["height"]) == (400, 300)
    receiver.wait_for("/cli-jobs", 1)

    human = cli.invoke("status", job_id)
    assert human.exit_code == 0 and "completed" in human.stdout and "400x300 png" in human.stdout

    listed = cli.invoke("list", "--limit", "5", "--json")
    assert job_id in [entry["jobId"] for entry in json.loads(listed.stdout)["data"]]
    assert job_id in cli.invoke("list").stdout

    again = cli.invoke("redeliver", job_id, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["webhookId"].endswith("_2")
    receiver.wait_for("/cli-jobs", 2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliveries = json.loads(cli.invoke("deliveries", job_id, "--json").stdout)["deliveries"]
        if deliveries[-1]["status"] == "delivered":
            break
        time.sleep(0.2)
    assert [d.get("superseded", False) for d in deliveries] == [True, False]
    table = cli.invoke("deliveries", job_id)
    assert table.exit_code == 0 and "superseded" in table.stdout and "200" in table.stdout


def test_keys_create_list_revoke_on_the_local_stack(cli: Cli) -> None:
    created = cli.invoke("keys", "create", "--tenant", "dev", "--name", "cli-test", "--local", "--json")
    assert created.exit_code == 0, created.stderr
    record = json.loads(created.stdout)
    assert cli.invoke("list", "--limit", "1", "--api-key", record["apiKey"]).exit_code == 0

    listed = json.loads(cli.invoke("keys", "list", "--tenant", "dev", "--local", "--json").stdout)
    assert record["keyId"] in [key["keyId"] for key in listed]
    assert "cli-test" in cli.invoke("keys", "list", "--local").stdout

    revoked = cli.invoke("keys", "revoke", record["keyId"], "--local")
    assert revoked.exit_code == 0, revoked.stderr
    assert cli.invoke("list", "--api-key", record["apiKey"]).exit_code == 3
    missing = cli.invoke("keys", "revoke", "key_nope", "--local")
    assert missing.exit_code == 4 and "no key" in missing.stderr


# --- batch ----------------------------------------------------------------------------------------------


def _report(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "report.jsonl").read_text().splitlines()]


def _all_jobs(stack: Stack) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor = ""
    while True:
        status, page = stack.request("GET", f"/v1/screenshots?limit=100{'&cursor=' + cursor if cursor else ''}")
        assert status == 200, page
        jobs += page["data"]
        cursor = page.get("nextCursor") or ""
        if not cursor:
            return jobs


def test_a_batch_with_bad_rows_reports_every_row(cli: Cli, site: str, tmp_path: Path) -> None:
    source = tmp_path / "sites.csv"
    source.write_text(
        "url,width,height,format,file\n"
        f"{site}/simple,320,200,,home\n"
        f"{site}/simple,320,200,jpeg,\n"
        f"http://127.0.0.1:{closed_port()}/,320,200,,\n"
    )
    out = tmp_path / "out"
    result = cli.invoke("batch", str(source), "--out", str(out), "--json")
    assert result.exit_code == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["total"], summary["completed"], summary["failed"]) == (3, 2, 1), json.dumps(summary, indent=1)
    assert summary["failures"][0]["line"] == 4 and "connection_error" in summary["failures"][0]["error"]
    rows = _report(out)
    assert [row["status"] for row in rows] == ["completed", "completed", "failed"]
    assert _image(out / "home.png") == ("PNG", (320, 200))
    assert _image(out / rows[1]["file"]) == ("JPEG", (320, 200))

    again = cli.invoke("batch", str(source), "--out", str(out))  # resume: only the failed row is tried again
    assert again.exit_code == 1
    assert [row["status"] for row in _report(out)] == ["skipped", "skipped", "failed"]
    assert "batch summary" in again.stdout and "skipped" in again.stdout


def test_a_batch_row_past_its_timeout_is_resumed_with_its_job_not_captured_again(
    cli: Cli, stack: Stack, site: str, tmp_path: Path
) -> None:
    url = f"{site}/simple?resume-after-timeout={time.time_ns()}"  # a URL no other test submits
    source = tmp_path / "slow.txt"
    source.write_text(url + "\n")
    out = tmp_path / "out"
    args = ["--json", "batch", str(source), "--out", str(out), "--delay-ms", "3000", "-W", "320", "-H", "200"]

    first = cli.invoke(*args, "--timeout", "1")  # gives up on the job after 1 s; the capture takes 3 s or more
    assert first.exit_code == 1, first.stderr
    summary = json.loads(first.stdout)
    assert (summary["failed"], summary["incomplete"], summary["completed"]) == (1, 1, 0), summary
    (row,) = _report(out)
    assert row["status"] == "incomplete" and row["job_id"] and row["error"].startswith("wait_timeout"), row
    assert not (out / row["file"]).exists()

    second = cli.invoke(*args)  # waits for that job and saves its image
    assert second.exit_code == 0, second.stderr
    assert json.loads(second.stdout)["completed"] == 1
    (again,) = _report(out)
    assert (again["status"], again["job_id"]) == ("completed", row["job_id"])
    assert _image(out / row["file"]) == ("PNG", (320, 200))
    assert [job["jobId"] for job in _all_jobs(stack) if job["url"] == url] == [row["job_id"]]


@pytest.mark.timeout(600)  # 200 captures: 2-4 minutes on 2 busy cores, over the suite's default 300 s
def test_a_200_url_batch_interrupted_then_resumed_captures_each_url_once(
    cli: Cli, stack: Stack, site: str, tmp_path: Path
) -> None:
    urls = [f"{site}/p/{n}" for n in range(BATCH_PAGES)]
    source = tmp_path / "urls.txt"
    source.write_text("# 200 tiny local pages\n" + "\n".join(urls) + "\n")
    out = tmp_path / "shots"
    args = ["batch", str(source), "--out", str(out), "--concurrency", "8", "--width", "320", "--height", "200"]

    # First run: interrupted (SIGINT, as Ctrl-C) once about 40 images exist.
    started = time.monotonic()
    first = subprocess.Popen(
        Cli.command(*args),
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=restore_sigint,  # interrupted below, however the suite was started
    )
    try:
        deadline = time.monotonic() + 150
        while len(list(out.glob("*.png"))) < 40:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the batch made fewer than 40 images in 150 s"
            time.sleep(0.1)
        first.send_signal(signal.SIGINT)
        _, stderr = first.communicate(timeout=30)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    rows = _report(out)
    assert len(rows) == BATCH_PAGES  # one line per input row, the rest marked
    done_first = {row["url"] for row in rows if row["status"] == "completed"}
    assert len(done_first) >= 40
    assert {row["status"] for row in rows} <= {"completed", "interrupted", "pending"}
    assert "pending" in {row["status"] for row in rows}
    images_after_first = {path.name for path in out.glob("*.png")}
    assert not list(out.glob(".*.part"))
    first_seconds = time.monotonic() - started

    # Second run: skips what exists, finishes the rest.
    second = cli.run(*args, "--json", timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout)
    assert summary["total"] == BATCH_PAGES and summary["failed"] == 0
    assert summary["skipped"] == len(images_after_first) and summary["completed"] == BATCH_PAGES - summary["skipped"]

    images = sorted(out.glob("*.png"))
    assert len(images) == BATCH_PAGES
    assert {_image(path) for path in images} == {("PNG", (320, 200))}
    rows = _report(out)
    assert len(rows) == BATCH_PAGES and [row["url"] for row in rows] == urls
    assert {row["status"] for row in rows} == {"skipped", "completed"}
    assert sorted(row["file"] for row in rows) == sorted(path.name for path in images)
    assert all(row["job_id"] for row in rows)

    # Each URL was captured once, at most twice (a job submitted in the instant of the interrupt).
    submissions: dict[str, int] = {}
    for job in _all_jobs(stack):
        if job["url"] in set(urls):
            submissions[job["url"]] = submissions.get(job["url"], 0) + 1
    assert set(submissions) == set(urls)
    assert max(submissions.values()) <= 2
    assert sum(submissions.values()) <= BATCH_PAGES + 8
    print(
        f"\nbatch: first run {len(done_first)} images in {first_seconds:.1f} s, then "
        f"{summary['completed']} in {summary['seconds']:.1f} s; {sum(submissions.values())} jobs for {BATCH_PAGES} URLs"
    )


# --- listen ---------------------------------------------------------------------------------------------


class Lines:
    """A process's output, read as it comes."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate: Any, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.lines):
                return self.lines
            time.sleep(0.1)
        raise AssertionError("not seen in time; output so far:\n" + "\n".join(self.lines))


def test_listen_verifies_prints_and_saves_real_deliveries(cli: Cli, site: str, tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "received"
    listener = subprocess.Popen(
        Cli.command("listen", "--port", str(port), "--out", str(out)),
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=restore_sigint,  # stopped with Ctrl-C's signal below
    )
    try:
        stdout, stderr = Lines(listener.stdout), Lines(listener.stderr)
        stderr.wait_for(lambda lines: any("listening on" in line for line in lines), timeout=20)
        hook = f"http://127.0.0.1:{port}/hook"

        # A forged delivery is refused.
        forged = {"Content-Type": "application/json", "X-Webhook-Signature": "0" * 64, "webhook-id": "msg_x"}
        assert post_status(hook, b'{"jobId":"job_forged","status":"completed"}', forged) == 401

        # Real ones, signed by the stack: two completed jobs and a failed one.
        job_ids = []
        for path, size in (("/simple", ("300", "200")), ("/p/7", ("200", "150"))):
            result = cli.invoke(
                "submit", f"{site}{path}", "--webhook-url", hook, "-W", size[0], "-H", size[1], "--json"
            )
            assert result.exit_code == 0, result.stderr
            job_ids.append(json.loads(result.stdout)["jobId"])
        failed = cli.invoke("submit", f"http://127.0.0.1:{closed_port()}/", "--webhook-url", hook, "--json")
        failed_id = json.loads(failed.stdout)["jobId"]

        lines = stdout.wait_for(lambda lines: sum(("job." in line) for line in lines) >= 3)
        saved = {job_id: out / f"{job_id}.png" for job_id in job_ids}
        deadline = time.monotonic() + 10
        while not all(path.exists() for path in saved.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _image(saved[job_ids[0]]) == ("PNG", (300, 200))
        assert _image(saved[job_ids[1]]) == ("PNG", (200, 150))
        for job_id in job_ids:
            (line,) = [line for line in lines if job_id in line and "job.completed" in line]
            assert f"→ {saved[job_id]}" in line and "completed" in line
        (failed_line,) = [line for line in lines if failed_id in line]
        assert "job.failed" in failed_line and "connection_error" in failed_line
        assert any("rejected" in line and "401" in line for line in stderr.lines)
    finally:
        listener.send_signal(signal.SIGINT)
        try:
            listener.wait(timeout=20)
        finally:
            if listener.poll() is None:
                listener.kill()
    assert listener.returncode == 0
    assert not any("Traceback" in line for line in stdout.lines + stderr.lines)
    assert any("3 verified, 1 rejected" in line for line in stderr.lines), stderr.lines
