"""The CLI without a stack: usage errors and their exit codes, batch input parsing, and `listen` checking
signatures of hand-signed deliveries."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shotwire.cli.batch import InputError, detect_format, parse_rows
from shotwire.cli.output import ExitCode
from tests.cli.conftest import SECRET, Cli, post_status, signed, wait_until_listening
from tests.support import ROOT, closed_port, free_port

KEY = {"SHOTWIRE_API_KEY": "sw_not_a_real_key_000000"}


def _no_traceback(result: object) -> None:
    text = f"{getattr(result, 'stdout', '')}{getattr(result, 'stderr', '')}"
    assert "Traceback" not in text, text
    assert getattr(result, "exception", None) is None or isinstance(result.exception, SystemExit), result.exception  # type: ignore[attr-defined]


def test_help_lists_every_command(offline_cli: Cli) -> None:
    result = offline_cli.invoke("--help")
    assert result.exit_code == 0
    for command in ("capture", "submit", "status", "list", "deliveries", "redeliver", "batch", "listen", "dev", "keys"):
        assert re.search(rf"\b{command}\b", result.stdout), command


def test_the_documented_exit_codes_are_the_ones_used() -> None:
    doc = (ROOT / "docs" / "cli.md").read_text()
    table = dict(re.findall(r"^\| `(\d+)` \| `(\w+)` \|", doc, flags=re.MULTILINE))
    assert table == {str(int(code)): code.name for code in ExitCode}


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["capture", "https://example.com"], {"SHOTWIRE_API_KEY": ""}, ExitCode.AUTH, "no API key"),
        (["capture", "not-a-url"], KEY, ExitCode.USAGE, "url must be an absolute http"),
        (["capture", "https://example.com", "--width", "0"], KEY, ExitCode.USAGE, "width"),
        (["capture", "https://example.com", "-O", "widht=3"], KEY, ExitCode.USAGE, "unknown field"),
        (["capture", "https://example.com", "--metadata", "{nope"], KEY, ExitCode.USAGE, "not valid JSON"),
        (["capture"], KEY, ExitCode.USAGE, "Missing argument"),
        (["batch", "/no/such/file.txt"], KEY, ExitCode.USAGE, "no such file"),
    ],
)
def test_user_errors_exit_with_their_code_and_one_line_no_traceback(
    offline_cli: Cli, args: list[str], env: dict[str, str], code: ExitCode, message: str
) -> None:
    result = offline_cli.invoke(*args, env=env)
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stdout == ""
    _no_traceback(result)


def test_an_unreachable_api_is_exit_5_from_a_real_process(offline_cli: Cli) -> None:
    result = offline_cli.run("status", "job_x", "--api-url", f"http://127.0.0.1:{closed_port()}", env=KEY)
    assert result.returncode == ExitCode.UNAVAILABLE, result.stderr
    assert "cannot reach the API" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_debug_shows_the_traceback(offline_cli: Cli) -> None:
    result = offline_cli.run("--debug", "status", "job_x", "--api-url", f"http://127.0.0.1:{closed_port()}", env=KEY)
    assert result.returncode == ExitCode.UNAVAILABLE
    assert "Traceback" in result.stderr


def test_the_sdk_s_own_app_has_the_client_commands_and_points_to_the_tooling_for_the_rest(offline_cli: Cli) -> None:
    from shotwire.cli.app import app as sdk_app

    listed = offline_cli.runner.invoke(sdk_app, ["--help"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0
    commands = set(re.findall(r"^│ ([a-z-]+) ", listed.stdout, flags=re.MULTILINE))
    assert {"capture", "batch", "listen", "status"} <= commands and not commands & {"dev", "keys", "tenants"}
    result = offline_cli.runner.invoke(sdk_app, ["keys", "list"])
    assert result.exit_code == ExitCode.USAGE
    assert "repository's own tooling" in result.stderr and ".venv/bin/shotwire keys" in result.stderr
    _no_traceback(result)


def test_dev_without_the_checkout_s_packages_says_so(offline_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "devstack.cli", None)  # as if moto, boto3 or Playwright were missing
    result = offline_cli.invoke("dev")
    assert result.exit_code == ExitCode.AUTH, result.output
    assert "needs the checkout's development packages" in result.stderr
    _no_traceback(result)


# --- batch input --------------------------------------------------------------------------------------


def test_plain_text_input_skips_comments_and_blank_lines() -> None:
    text = "# my sites\nhttps://a.example/\n\n  https://b.example/x  \n"
    rows = parse_rows(text, detect_format(text, "urls.txt", "auto"), {"width": 320})
    assert [(row.line, row.url, row.options) for row in rows] == [
        (2, "https://a.example/", {"width": 320}),
        (4, "https://b.example/x", {"width": 320}),
    ]


def test_csv_columns_are_options_with_types_and_override_the_defaults() -> None:
    text = "url,width,fullPage,format,file\nhttps://a.example/,640,true,jpeg,\nhttps://b.example/,,no,,b-page\n"
    rows = parse_rows(text, detect_format(text, "sites.csv", "auto"), {"width": 320, "height": 200})
    assert rows[0].options == {"width": 640, "height": 200, "full_page": True, "format": "jpeg"}
    assert rows[0].file.endswith(".jpg")
    assert rows[1].options == {"width": 320, "height": 200, "full_page": False}
    assert rows[1].file == "b-page.png"


def test_jsonl_objects_take_camel_or_snake_case() -> None:
    text = '{"url": "https://a.example/", "fullPage": true, "dark_mode": true}\n"https://b.example/"\n'
    rows = parse_rows(text, detect_format(text, "jobs.data", "auto"), {})
    assert rows[0].options == {"full_page": True, "dark_mode": True}
    assert rows[1].url == "https://b.example/"


def test_file_names_are_stable_and_change_with_the_options() -> None:
    first = parse_rows("https://a.example/page\n", "text", {"width": 320})[0].file
    again = parse_rows("# moved down a line\nhttps://a.example/page\n", "text", {"width": 320})[0].file
    other = parse_rows("https://a.example/page\n", "text", {"width": 640})[0].file
    assert first == again != other
    assert re.fullmatch(r"a\.example_page-[0-9a-f]{10}\.png", first), first


@pytest.mark.parametrize(
    ("text", "name", "problem"),
    [
        ("url,widht\nhttps://a.example/,3\n", "x.csv", "'widht' is not a capture option"),
        ("url,width\nhttps://a.example/,wide\n", "x.csv", "width"),
        ("site\nhttps://a.example/\n", "x.csv", "url column"),
        ('{"url": "https://a.example/"\n', "x.jsonl", "line 1: not valid JSON"),
        ('{"url": "https://a.example/", "file": "../escape"}\n', "x.jsonl", "inside --out"),
    ],
)
def test_bad_input_is_refused_before_anything_is_submitted(text: str, name: str, problem: str) -> None:
    with pytest.raises(InputError, match=re.escape(problem)):
        parse_rows(text, detect_format(text, name, "auto"), {})


def test_an_invalid_row_fails_the_batch_before_submitting(offline_cli: Cli, tmp_path: Path) -> None:
    source = tmp_path / "urls.txt"
    source.write_text("https://a.example/\nftp://nope/\n")
    result = offline_cli.invoke("batch", str(source), "--out", str(tmp_path / "out"), env=KEY)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "line 2" in result.stderr and "nothing submitted" in result.stderr
    _no_traceback(result)


# --- listen -------------------------------------------------------------------------------------------


def test_listen_answers_204_to_a_signed_event_401_to_a_forged_one_and_prints_json_lines(
    offline_cli: Cli, tmp_path: Path
) -> None:
    port = free_port()
    process = subprocess.Popen(
        Cli.command("listen", "--port", str(port), "--out", str(tmp_path), "--count", "2", "--json"),
        env=offline_cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_listening(base + "/", process)
        test_event = json.dumps({"type": "webhook.test", "tenantId": "t", "sentAt": "now", "webhookId": "msg_1"})
        batch_event = {"type": "batch.completed", "batchId": "bat_1", "status": "completed", "total": 2}
        batch_body = json.dumps({**batch_event, "counts": {"completed": 1, "failed": 1}}).encode()

        assert post_status(base + "/hook", test_event.encode(), signed(test_event.encode(), SECRET, "msg_1")) == 204
        forged = signed(batch_body, "whsec_" + base64.b64encode(b"not the secret at all!!!").decode())
        assert post_status(base + "/hook", batch_body, forged) == 401
        assert post_status(base + "/hook", batch_body, {"Content-Type": "application/json"}) == 401
        assert post_status(base + "/other", batch_body, signed(batch_body, SECRET, "msg_2")) == 204
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    lines = [json.loads(line) for line in stdout.splitlines()]  # nothing but JSON on stdout
    verified = [line for line in lines if line["verified"]]
    assert [(line["type"], line["id"]) for line in verified] == [
        ("webhook.test", "msg_1"),
        ("batch.completed", "bat_1"),
    ]
    assert verified[1]["event"]["counts"] == {"completed": 1, "failed": 1}
    assert [line["status"] for line in lines if not line["verified"]] == [401, 401]
    assert "Traceback" not in stderr
