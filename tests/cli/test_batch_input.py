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
    batch_module._remove_leftovers(tmp_path, rows)
    assert [name for name in ours + theirs if (tmp_path / name).exists()] == theirs


# --- resume and the report's statuses, against an in-memory API ---------------------------------------------


class FakeApi:
    """Just enough of the API and of the storage behind the presigned links."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.posted: list[str] = []  # URLs, in order
        self.outcome: Callable[[str], str] = lambda url: "completed"  # status of a new job
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
            url = json.loads(request.content)["url"]
            self.posted.append(url)
            job_id = f"job_{len(self.posted):04d}"
            self.add(job_id, url, self.outcome(url))
            return httpx.Response(202, json={"jobId": job_id, "status": "queued"})
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
    monkeypatch.setattr(batch_module, "make_client", lambda state, **kwargs: api.client())
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
