"""`shotwire batch` without a stack: input parsing (CSV comments and line numbers, a one-column CSV), file
names that collide or are reserved, leftover temporary files, and the report's statuses on resume, against
an in-memory API behind the SDK's own client (httpx.MockTransport)."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from shotwire import Client
from shotwire.cli import batch as batch_module
from shotwire.cli.batch import REPORT_NAME, ImageUnavailable, InputError, SerialApi, detect_format, parse_rows
from shotwire.cli.batch import command as batch_command
from shotwire.cli.output import ExitCode
from tests.cli.conftest import Cli
from tests.support import closed_port

API = "http://api.test"
STORAGE = "http://storage.test"
IMAGE = b"\x89PNG not really"


def _env() -> dict[str, str]:
    return {"SHOTWIRE_API_KEY": "sw_not_a_real_key_000000", "SHOTWIRE_API_URL": f"http://127.0.0.1:{closed_port()}"}


def _report(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / REPORT_NAME).read_text().splitlines()]


# --- input ----------------------------------------------------------------------------------------------


def test_csv_comments_keep_the_line_numbers_and_quoted_cells_may_span_lines() -> None:
    text = (
        "# a comment before the header\n"  # 1
        "url,user_agent,width\n"  # 2
        "# a comment between rows\n"  # 3
        'https://a.example/,"two\n'  # 4
        '# not a comment: inside a quoted cell",320\n'  # 5
        "\n"  # 6
        "https://b.example/,,wide\n"  # 7
    )
    with pytest.raises(InputError, match=r"^line 7: "):
        parse_rows(text, detect_format(text, "x.csv", "auto"), {})
    rows = parse_rows(text.replace("wide", "640"), "csv", {})
    assert [(row.line, row.url) for row in rows] == [(4, "https://a.example/"), (7, "https://b.example/")]
    assert rows[0].options == {"user_agent": "two\n# not a comment: inside a quoted cell", "width": 320}
    assert rows[1].options == {"width": 640}


def test_csv_with_more_cells_than_columns_names_the_line() -> None:
    with pytest.raises(InputError, match=r"^line 3: more cells than the header has columns"):
        parse_rows("url,width\n# skip\nhttps://a.example/,1,2\n", "csv", {})


@pytest.mark.parametrize("header", ["url", "URL", '"url"', "Urls"])
def test_a_one_column_csv_header_is_a_header_not_a_url(header: str) -> None:
    text = f"# pages\n{header}\nhttps://a.example/\nhttps://b.example/\n"
    assert detect_format(text, "pages.txt", "auto") == "csv"
    rows = parse_rows(text, detect_format(text, "pages.txt", "auto"), {})
    assert [(row.line, row.url) for row in rows] == [(3, "https://a.example/"), (4, "https://b.example/")]


def test_plain_text_is_still_text() -> None:
    assert detect_format("https://a.example/\nurl\n", "x.txt", "auto") == "text"
    assert detect_format("urlish.example\n", "x.txt", "auto") == "text"


# --- file names -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lines"),
    [
        ("url,file\nhttps://a.example/,shot\nhttps://b.example/,shot\n", "lines 2 and 3"),
        ("url,width,file\nhttps://a.example/,320,shot\n# x\nhttps://a.example/,640,shot.png\n", "lines 2 and 4"),
        ("url,file\nhttps://a.example/,Shot.png\nhttps://b.example/,shot.PNG\n", "lines 2 and 3"),
        ("url,file\nhttps://a.example/,a\nhttps://b.example/,a.png/b\n", "line 2 writes 'a.png', a folder of line 3"),
    ],
)
def test_two_different_rows_may_not_write_the_same_file(text: str, lines: str) -> None:
    with pytest.raises(InputError, match=re.escape(lines)):
        parse_rows(text, "csv", {})


def test_identical_rows_may_share_a_named_file() -> None:
    rows = parse_rows("url,file\nhttps://a.example/,shot\nhttps://a.example/,./shot.png\n", "csv", {})
    assert [row.file for row in rows] == ["shot.png", "shot.png"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("report.jsonl", "reserved"),
        ("Report.JSONL", "reserved"),
        (".shot.png.abcd1234.part", "reserved"),
        ("shot.part", "reserved"),
        ("../escape", "inside --out"),
        ("sub/../../escape", "inside --out"),
        ("/etc/passwd", "inside --out"),
        ("\\\\server\\share", "inside --out"),
        (".", "inside --out"),
    ],
)
def test_reserved_names_and_names_outside_out_are_refused(name: str, problem: str) -> None:
    text = json.dumps({"url": "https://a.example/", "file": name}) + "\n"
    with pytest.raises(InputError, match=rf"^line 1: file .* {re.escape(problem)}"):
        parse_rows(text, "jsonl", {})


def test_a_report_in_a_subfolder_is_an_ordinary_name() -> None:
    assert parse_rows('{"url": "https://a.example/", "file": "sub/report.jsonl"}\n', "jsonl", {})[0].file == (
        "sub/report.jsonl"
    )


def test_a_collision_is_exit_2_naming_the_lines_before_anything_is_sent(offline_cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "sites.csv"
    source.write_text("url,file\nhttps://a.example/,shot\nhttps://b.example/,shot\n")
    result = offline_cli.invoke("batch", str(source), "--out", str(tmp_path / "out"), env=_env())
    assert result.exit_code == ExitCode.USAGE, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: lines 2 and 3 both write 'shot.png'"), line
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_name_through_a_link_out_of_out_is_exit_2(offline_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "elsewhere").mkdir()
    (out / "link").symlink_to(tmp_path / "elsewhere")
    source = tmp_path / "sites.jsonl"
    source.write_text('{"url": "https://a.example/", "file": "link/shot"}\n')
    result = offline_cli.invoke("batch", str(source), "--out", str(out), env=_env())
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "line 1: file 'link/shot.png' resolves outside" in result.stderr


def test_only_the_batchs_own_temporary_files_are_removed(tmp_path: Path) -> None:
    rows = parse_rows("url,file\nhttps://a.example/,a\nhttps://b.example/,sub/b\n", "csv", {})
    (tmp_path / "sub").mkdir()
    ours = [".a.png.k3j_x9q0.part", ".report.jsonl.abcdefgh.part", "sub/.b.png.12345678.part"]
    theirs = [".c.png.abcdefgh.part", ".a.png.part", "notes.part", ".a.png.abcdefgh.part.keep"]
    theirs += ["sub/.a.png.abcdefgh.part"]  # a.png is not in sub/
    for name in ours + theirs:
        (tmp_path / name).write_bytes(b"x")
    batch_module.remove_leftovers(tmp_path, rows)
    assert [name for name in ours + theirs if (tmp_path / name).exists()] == theirs


# --- resume and the report's statuses, against an in-memory API ---------------------------------------------


class FakeApi:
    """Just enough of the API and of the storage behind the presigned links. Idempotency-Key as the API
    keeps it: the same key with the same body answers the first response again, with another body 422."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.posted: list[str] = []  # URLs of the jobs made, in order
        self.bodies: list[dict[str, Any]] = []  # their bodies
        self.keys: list[str] = []  # the Idempotency-Key of every POST, replays included
        self.first: dict[str, tuple[bytes, dict[str, Any]]] = {}  # key -> (body, first answer)
        self.outcome: Callable[[str], str] = lambda url: "completed"  # status of a new job
        self.refuse: Callable[[str], bool] = lambda url: False  # answer a new job's POST with 422
        self.storage: dict[str, int] = {}  # job id -> status of its presigned link (200 unless set)
        self.seen: list[tuple[str, str, bool]] = []  # method, path, whether SerialApi's lock was held
        self.lock: threading.Lock | None = None

    def add(self, job_id: str, url: str, status: str) -> None:
        job: dict[str, Any] = {"jobId": job_id, "status": status, "url": url}
        if status == "completed":
            job.update(screenshotUrl=f"{STORAGE}/{job_id}", width=320, height=200, format="png")
        if status == "failed":
            job.update(error="the page did not load", errorCode="navigation_timeout")
        self.jobs[job_id] = job

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path, bool(self.lock and self.lock.locked())))
        path = request.url.path
        if request.url.host == "storage.test":
            status = self.storage.get(path.rsplit("/", 1)[1], 200)
            return httpx.Response(status, content=IMAGE if status == 200 else b"<Error>gone</Error>")
        if request.method == "POST" and path == "/v1/screenshots":
            key = request.headers["Idempotency-Key"]
            self.keys.append(key)
            if key in self.first:
                body, answer = self.first[key]
                if body != request.content:
                    problem = {"field": "Idempotency-Key", "rule": "idempotency_key_reused", "message": "reused"}
                    error = {"code": "invalid_request", "message": "reused", "details": [problem]}
                    return httpx.Response(422, json={"error": error})
                return httpx.Response(202, json=answer, headers={"Idempotent-Replayed": "true"})
            url = json.loads(request.content)["url"]
            if self.refuse(url):
                problem = {"field": "url", "rule": "blocked_url", "message": "url is not allowed"}
                error = {"code": "invalid_request", "message": "url is not allowed", "details": [problem]}
                return httpx.Response(422, json={"error": error})
            self.posted.append(url)
            self.bodies.append(json.loads(request.content))
            job_id = f"job_{len(self.posted):04d}"
            self.add(job_id, url, self.outcome(url))
            answer = {"jobId": job_id, "status": "queued"}
            self.first[key] = (request.content, answer)
            return httpx.Response(202, json=answer)
        if request.method == "GET" and path == "/v1/screenshots":
            return httpx.Response(200, json={"data": list(reversed(self.jobs.values())), "nextCursor": None})
        if request.method == "GET" and path.startswith("/v1/screenshots/"):
            job = self.jobs.get(path.rsplit("/", 1)[1])
            if job is None:
                return httpx.Response(404, json={"error": {"code": "not_found", "message": "no such job"}})
            return httpx.Response(200, json=job)
        return httpx.Response(500, json={"error": {"code": "unexpected", "message": f"{request.method} {path}"}})

    def client(self) -> Client:
        return Client(api_key="sw_not_a_real_key_000000", base_url=API, transport=httpx.MockTransport(self.handler))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    api = FakeApi()
    monkeypatch.setattr(batch_command, "make_client", lambda state, **kwargs: api.client())
    return api


def _batch(cli: Cli, source: Path, out: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = cli.invoke("--json", "batch", str(source), "--out", str(out), *args, env=_env())
    assert "Traceback" not in result.stderr, result.stderr
    return result.exit_code, json.loads(result.stdout)


def test_a_row_past_its_timeout_is_incomplete_and_the_rerun_waits_for_the_same_job(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "urls.txt", tmp_path / "out"
    source.write_text("https://slow.example/\nhttps://quick.example/\n")
    fake.outcome = lambda url: "processing" if "slow" in url else "completed"

    code, summary = _batch(offline_cli, source, out, "--timeout", "0.5")
    assert code == ExitCode.FAILED
    assert (summary["completed"], summary["failed"], summary["incomplete"]) == (1, 1, 1)
    assert [failure["line"] for failure in summary["failures"]] == [1]
    slow = _report(out)[0]
    assert (slow["status"], slow["job_id"]) == ("incomplete", "job_0001")
    assert slow["error"].startswith("wait_timeout")

    fake.add("job_0001", "https://slow.example/", "completed")  # it finished after the first run gave up
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK, summary
    assert (summary["completed"], summary["skipped"], summary["failed"], summary["incomplete"]) == (1, 1, 0, 0)
    assert fake.posted == ["https://slow.example/", "https://quick.example/"]  # no second job
    assert [(row["status"], row["job_id"]) for row in _report(out)] == [
        ("completed", "job_0001"),
        ("skipped", "job_0002"),
    ]
    assert (out / slow["file"]).read_bytes() == IMAGE


def test_a_failed_download_is_incomplete_and_resumed_with_the_same_job(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "urls.txt", tmp_path / "out"
    source.write_text("https://a.example/\n")
    fake.storage["job_0001"] = 404
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.FAILED and summary["incomplete"] == 1
    row = _report(out)[0]
    assert (row["status"], row["job_id"]) == ("incomplete", "job_0001")
    assert "ImageUnavailable" in row["error"]

    del fake.storage["job_0001"]
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK and summary["completed"] == 1
    assert fake.posted == ["https://a.example/"]


def test_an_earlier_jobs_expired_image_is_captured_again(offline_cli: Cli, fake: FakeApi, tmp_path: Path) -> None:
    source, out = tmp_path / "urls.txt", tmp_path / "out"
    source.write_text("https://a.example/\n")
    fake.storage["job_0001"] = 403  # what S3 answers for a deleted object, before and after re-signing
    assert _batch(offline_cli, source, out)[0] == ExitCode.FAILED  # this run's own job: incomplete, not fatal

    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK, summary
    assert fake.posted == ["https://a.example/", "https://a.example/"]
    assert _report(out)[0]["job_id"] == "job_0002"


def test_earlier_jobs_are_resumed_whatever_their_line_says_unless_failed_gone_or_another_url(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "sites.csv", tmp_path / "out"
    urls = [f"https://{name}.example/" for name in ("timedout", "failed", "gone", "moved")]
    source.write_text("url,file\n" + "".join(f"{url},{n}\n" for n, url in enumerate(urls)))
    out.mkdir()
    fake.add("job_old0", urls[0], "completed")
    fake.add("job_old1", urls[1], "failed")
    fake.add("job_old3", "https://elsewhere.example/", "completed")
    earlier = [  # a report of an earlier version, which wrote a timed-out row as failed
        {"line": 2, "url": urls[0], "status": "failed", "job_id": "job_old0", "file": "0.png", "error": "wait_timeout"},
        {"line": 3, "url": urls[1], "status": "failed", "job_id": "job_old1", "file": "1.png"},
        {"line": 4, "url": urls[2], "status": "interrupted", "job_id": "job_old2", "file": "2.png"},
        {"line": 5, "url": "https://elsewhere.example/", "status": "failed", "job_id": "job_old3", "file": "3.png"},
    ]
    (out / REPORT_NAME).write_text("".join(json.dumps(line) + "\n" for line in earlier))

    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK, summary
    assert sorted(fake.posted) == sorted(urls[1:])
    jobs = {row["url"]: row["job_id"] for row in _report(out)}
    assert jobs[urls[0]] == "job_old0"
    assert {jobs[url] for url in urls[1:]}.isdisjoint({"job_old1", "job_old2", "job_old3"})


def test_serial_api_downloads_under_the_lock_only_for_the_api_calls() -> None:
    fake = FakeApi()
    fake.add("job_a", "https://a.example/", "completed")
    fake.storage["job_a"] = 403  # an expired link: the SDK signs a fresh one with GET /v1/screenshots/job_a
    with fake.client() as client:
        api = SerialApi(client)
        fake.lock = api.lock
        job = client.get("job_a")
        fake.seen.clear()
        with pytest.raises(ImageUnavailable) as failed:
            api.download(job)
        assert failed.value.status == 403
        assert fake.seen == [
            ("GET", "/job_a", False),
            ("GET", "/v1/screenshots/job_a", True),
            ("GET", "/job_a", False),
        ]

        del fake.storage["job_a"]
        fake.seen.clear()
        assert api.download(job.model_copy(update={"download_url": None})) == IMAGE
        assert fake.seen == [("GET", "/v1/screenshots/job_a", True), ("GET", "/job_a", False)]
        assert not api.lock.locked()


# --- what counts as the same row on a re-run: the key, not the file name ----------------------------------


def test_a_named_file_whose_url_changed_is_captured_again_and_overwritten(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "sites.csv", tmp_path / "out"
    source.write_text("url,file\nhttps://old.example/,shot\n")
    assert _batch(offline_cli, source, out)[0] == ExitCode.OK
    (first,) = _report(out)
    assert first["key"] == parse_rows(source.read_text(), "csv", {})[0].key
    (out / "shot.png").write_bytes(b"the old page")

    source.write_text("url,file\nhttps://new.example/,shot\n")
    fake.refuse = lambda url: "new" in url  # this run's capture fails: the old image must not count later
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.FAILED and summary["skipped"] == 0, summary
    (row,) = _report(out)
    assert (row["status"], row["job_id"], row["url"]) == ("failed", None, "https://new.example/")

    fake.refuse = lambda url: False
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK and (summary["completed"], summary["skipped"]) == (1, 0), summary
    assert fake.posted == ["https://old.example/", "https://new.example/"]
    assert (out / "shot.png").read_bytes() == IMAGE
    (row,) = _report(out)
    assert (row["status"], row["job_id"]) == ("completed", "job_0002")
    assert row["key"] == parse_rows(source.read_text(), "csv", {})[0].key != first["key"]

    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK and summary["skipped"] == 1
    assert _report(out)[0]["status"] == "skipped" and len(fake.posted) == 2


@pytest.mark.parametrize(("url", "skipped"), [("https://a.example/", True), ("https://moved.example/", False)])
def test_an_older_report_without_keys_still_skips_the_same_url(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path, url: str, skipped: bool
) -> None:
    source, out = tmp_path / "sites.csv", tmp_path / "out"
    source.write_text(f"url,file\n{url},shot\n")
    out.mkdir()
    (out / "shot.png").write_bytes(b"an earlier image")
    line = {"line": 2, "url": "https://a.example/", "status": "completed", "job_id": "job_old", "file": "shot.png"}
    (out / REPORT_NAME).write_text(json.dumps(line) + "\n")
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK and summary["skipped"] == int(skipped), summary
    assert fake.posted == ([] if skipped else [url])
    assert (out / "shot.png").read_bytes() == (b"an earlier image" if skipped else IMAGE)


def test_a_row_whose_options_changed_does_not_resume_the_earlier_job(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "sites.csv", tmp_path / "out"
    source.write_text("url,width,file\nhttps://a.example/,320,shot\n")
    fake.outcome = lambda url: "processing"
    code, summary = _batch(offline_cli, source, out, "--timeout", "0.5")
    assert code == ExitCode.FAILED and summary["incomplete"] == 1
    assert _report(out)[0]["job_id"] == "job_0001"

    fake.add("job_0001", "https://a.example/", "completed")
    fake.outcome = lambda url: "completed"
    source.write_text("url,width,file\nhttps://a.example/,1024,shot\n")
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK and summary["completed"] == 1, summary
    assert [body.get("width") for body in fake.bodies] == [320, 1024]
    assert _report(out)[0]["job_id"] == "job_0002"


def test_a_failed_earlier_job_and_a_refused_submit_is_failed_without_the_old_job_id(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "urls.txt", tmp_path / "out"
    source.write_text("https://a.example/\n")
    fake.outcome = lambda url: "failed"
    assert _batch(offline_cli, source, out)[0] == ExitCode.FAILED
    assert _report(out)[0]["job_id"] == "job_0001"

    fake.refuse = lambda url: True  # e.g. the URL is blocked now: 422, not about the key
    for _ in range(2):  # the same on every run, never `incomplete` with the failed job
        code, summary = _batch(offline_cli, source, out)
        assert code == ExitCode.FAILED and (summary["failed"], summary["incomplete"]) == (1, 0), summary
        (row,) = _report(out)
        assert (row["status"], row["job_id"], row["retry_of"]) == ("failed", None, "job_0001")
        assert "422" in row["error"] or "not allowed" in row["error"]
    assert fake.keys[1] == fake.keys[2] != fake.keys[0]  # the retry's key, kept through the report

    fake.refuse = lambda url: False
    fake.outcome = lambda url: "completed"
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK, summary
    assert fake.keys[3] == fake.keys[1] and fake.posted == ["https://a.example/"] * 2
    (row,) = _report(out)
    assert (row["status"], row["job_id"]) == ("completed", "job_0002") and "retry_of" not in row


def test_identical_rows_whose_names_differ_in_case_are_one_capture(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    rows = parse_rows("url,file\nhttps://a.example/,Shot\nhttps://a.example/,shot.png\n", "csv", {})
    assert [row.file for row in rows] == ["Shot.png", "Shot.png"]

    source, out = tmp_path / "sites.csv", tmp_path / "out"
    source.write_text("url,file\nhttps://a.example/,Shot\nhttps://a.example/,shot\n")
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK and summary["completed"] == 2, summary
    assert fake.posted == ["https://a.example/"]
    assert [(row["file"], row.get("duplicate_of")) for row in _report(out)] == [("Shot.png", None), ("Shot.png", 2)]


# --- Idempotency-Key: a job whose id never reached the report comes back ----------------------------------


def test_a_job_whose_id_never_reached_the_report_is_taken_up_not_submitted_again(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "urls.txt", tmp_path / "out"
    source.write_text("https://a.example/\n")
    fake.outcome = lambda url: "processing"
    assert _batch(offline_cli, source, out, "--timeout", "0.5")[0] == ExitCode.FAILED
    (out / REPORT_NAME).unlink()  # as if killed -9 before the report said anything of the job

    fake.add("job_0001", "https://a.example/", "completed")
    fake.outcome = lambda url: "completed"
    code, summary = _batch(offline_cli, source, out, "--timeout", "10")
    assert code == ExitCode.OK and summary["completed"] == 1, summary
    assert fake.posted == ["https://a.example/"] and len(fake.keys) == 2
    assert fake.keys[0] == fake.keys[1] and re.fullmatch(r"batch-[0-9a-f]{40}", fake.keys[0])
    assert _report(out)[0]["job_id"] == "job_0001"

    # Another --out is another batch: its own key, its own job.
    assert _batch(offline_cli, source, tmp_path / "elsewhere", "--timeout", "10")[0] == ExitCode.OK
    assert fake.keys[2] != fake.keys[0] and len(fake.posted) == 2


def test_a_failed_job_gets_a_new_key_so_the_row_really_is_captured_again(
    offline_cli: Cli, fake: FakeApi, tmp_path: Path
) -> None:
    source, out = tmp_path / "urls.txt", tmp_path / "out"
    source.write_text("https://a.example/\n")
    fake.outcome = lambda url: "failed"
    assert _batch(offline_cli, source, out)[0] == ExitCode.FAILED
    fake.outcome = lambda url: "completed"
    code, summary = _batch(offline_cli, source, out)
    assert code == ExitCode.OK, summary
    assert fake.posted == ["https://a.example/"] * 2 and fake.keys[0] != fake.keys[1]
    assert _report(out)[0]["job_id"] == "job_0002"


def test_the_key_follows_the_body_sent_so_reordered_objects_are_not_refused(tmp_path: Path) -> None:
    def task(headers: str) -> batch_module.Task:
        text = json.dumps({"url": "https://a.example/", "headers": json.loads(headers)}) + "\n"
        (row,) = parse_rows(text, "jsonl", {})
        return batch_module.Task(row, out_root=str(tmp_path))

    one, other = task('{"A": "1", "B": "2"}'), task('{"B": "2", "A": "1"}')
    assert one.row.key == other.row.key  # the same capture: resumed and skipped alike
    assert one.idempotency_key != other.idempotency_key  # but another body: the API would refuse the key
    assert one.idempotency_key == task('{"A": "1", "B": "2"}').idempotency_key
    assert len(one.idempotency_key) <= 255 and one.idempotency_key.isascii()


# --- names the file system cannot take --------------------------------------------------------------------


def test_a_name_with_a_nul_is_exit_2_naming_the_line(offline_cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "sites.jsonl"
    source.write_text('{"url": "https://a.example/"}\n' + json.dumps({"url": "https://b.example/", "file": "a\0b"}))
    result = offline_cli.invoke("batch", str(source), "--out", str(tmp_path / "out"), env=_env())
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "line 2: file 'a\\x00b' contains a NUL character" in result.stderr
    assert "unexpected" not in result.stderr

    row = batch_module.Row(1, "https://a.example/", {}, "a\0b.png")  # past parse_rows: resolve() raises
    with pytest.raises(InputError, match=r"^line 1: file 'a\\x00b.png' cannot be used"):
        batch_module.check_inside(tmp_path, [row])


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_a_name_through_a_loop_of_links_is_exit_2(offline_cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "loop").symlink_to(out / "loop")
    source = tmp_path / "sites.jsonl"
    source.write_text('{"url": "https://a.example/", "file": "loop/shot"}\n')
    result = offline_cli.invoke("batch", str(source), "--out", str(out), env=_env())
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "line 1: file 'loop/shot.png'" in result.stderr
