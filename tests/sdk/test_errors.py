"""Every exception the SDK raises is a ShotwireError: httpx's own failures, answers the models cannot
read, statuses a newer server may add, bad path arguments; and how the CLI maps them to exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest

import shotwire
from shotwire.cli.errors import exit_code_for
from shotwire.cli.output import ExitCode
from tests.sdk.test_retries import ACCEPTED, KINDS, Script, answer, drive, fail
from tests.support import closed_port

KEY = {"SHOTWIRE_API_KEY": "sw_not_a_real_key_000000"}


def test_every_public_exception_derives_from_shotwire_error() -> None:
    assert issubclass(shotwire.webhooks.WebhookVerificationError, shotwire.ShotwireError)
    for name in shotwire.errors.__all__:
        assert issubclass(getattr(shotwire.errors, name), shotwire.ShotwireError), name


def test_the_errors_module_imports_only_the_standard_library() -> None:
    # shotwire.webhooks (stdlib-only, for receivers) imports it: it must stay as cheap.
    code = (
        "import json, sys; before = set(sys.modules); import shotwire.errors; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    loaded = json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, check=True).stdout)
    foreign = {name.split(".")[0] for name in loaded} - set(sys.stdlib_module_names) - {"shotwire"}
    assert not foreign, foreign


# --- httpx failures -------------------------------------------------------------------------------------


@KINDS
def test_an_undecodable_answer_is_a_transport_error_and_not_retried(kind: str) -> None:
    script = Script([fail(httpx.DecodingError), answer(200, ACCEPTED)])
    with pytest.raises(shotwire.TransportError) as caught:
        drive(kind, script, "get", "job_01abc")
    assert isinstance(caught.value.__cause__, httpx.DecodingError) and len(script.seen) == 1
    assert "the answer could not be read" in str(caught.value)


@KINDS
def test_too_many_redirects_is_a_transport_error(kind: str) -> None:
    loop = {"Location": "http://bucket.test/job.png"}
    script = Script([lambda request: httpx.Response(302, headers=loop)])
    job = shotwire.Job.model_validate({**ACCEPTED, "status": "completed", "screenshotUrl": loop["Location"]})
    with pytest.raises(shotwire.TransportError) as caught:
        drive(kind, script, "download", job)
    assert isinstance(caught.value.__cause__, httpx.TooManyRedirects)


@KINDS
def test_an_invalid_url_is_a_shotwire_error_and_nothing_is_sent(kind: str) -> None:
    job = shotwire.Job.model_validate({**ACCEPTED, "status": "completed", "screenshotUrl": "http://bucket:port/x.png"})
    script = Script([answer(200)])
    with pytest.raises(shotwire.ShotwireError) as caught:
        drive(kind, script, "download", job)
    assert isinstance(caught.value.__cause__, httpx.InvalidURL) and not script.seen
    assert not isinstance(caught.value, shotwire.TransportError)


# --- answers --------------------------------------------------------------------------------------------


@KINDS
def test_a_status_from_a_newer_server_is_kept(kind: str) -> None:
    job = drive(kind, Script([answer(200, {**ACCEPTED, "status": "archived"})]), "get", "job_01abc")
    assert job.status == "archived" and not job.is_terminal
    batch = {"batchId": "bat_1", "status": "paused", "jobs": [{"jobId": "job_1", "status": "archived"}]}
    got = drive(kind, Script([answer(200, batch)]), "get_batch", "bat_1")
    assert got.status == "paused" and got.jobs[0].status == "archived" and got.job_ids == ["job_1"]
    page = drive(kind, Script([answer(200, {"data": [{**ACCEPTED, "status": "archived"}]})]), "list")
    assert page.data[0].status == "archived"


@KINDS
def test_requests_stay_strict(kind: str) -> None:
    script = Script([answer(200, {"data": []})])
    with pytest.raises(shotwire.InvalidRequestError) as listed:
        drive(kind, script, "list", status="archived")
    with pytest.raises(shotwire.InvalidRequestError) as submitted:
        drive(kind, script, "submit", "https://example.com/", format="gif")
    assert listed.value.client_side and listed.value.fields == ["status"]
    assert submitted.value.client_side and submitted.value.fields == ["format"]
    assert not script.seen


@KINDS
def test_an_answer_the_models_cannot_read_is_an_api_error(kind: str) -> None:
    with pytest.raises(shotwire.APIError) as missing:
        drive(kind, Script([answer(200, {"status": "queued"})]), "get", "job_01abc")
    assert missing.value.code == "invalid_response" and "jobId" in missing.value.message
    with pytest.raises(shotwire.APIError) as listed:
        drive(kind, Script([answer(200, ["not", "an", "object"])]), "redeliver", "job_01abc")
    assert listed.value.code == "invalid_response" and listed.value.status == 200
    assert exit_code_for(listed.value) == ExitCode.FAILED


# --- path arguments and the CLI ---------------------------------------------------------------------------


@KINDS
@pytest.mark.parametrize(("operation", "field"), [("get", "job_id"), ("delete", "job_id"), ("get_batch", "batch_id")])
def test_a_blank_id_is_refused_before_sending(kind: str, operation: str, field: str) -> None:
    script = Script([answer(200, ACCEPTED)])
    with pytest.raises(shotwire.InvalidRequestError) as caught:
        drive(kind, script, operation, " ")
    assert caught.value.client_side and caught.value.fields == [field] and not script.seen
    assert exit_code_for(caught.value) == ExitCode.USAGE


def test_status_of_a_blank_job_id_is_a_usage_error() -> None:
    from typer.testing import CliRunner

    from tests.cli.conftest import Cli

    result = Cli(None, CliRunner()).invoke("status", " ", "--api-url", f"http://127.0.0.1:{closed_port()}", env=KEY)
    assert result.exit_code == ExitCode.USAGE, result.stderr
    assert "job_id must be a non-empty string" in result.stderr and "Traceback" not in result.stderr


def test_exit_codes_of_sdk_errors() -> None:
    assert exit_code_for(shotwire.ShotwireError("job j has no image to download")) == ExitCode.FAILED
    assert exit_code_for(shotwire.webhooks.WebhookVerificationError("bad signature")) == ExitCode.FAILED
    assert exit_code_for(shotwire.TransportError("refused")) == ExitCode.UNAVAILABLE
    assert exit_code_for(shotwire.ServerError(502, "http_502", "bad gateway")) == ExitCode.UNAVAILABLE
    assert exit_code_for(shotwire.RateLimitError(429, "rate_limited", "slow down")) == ExitCode.UNAVAILABLE
    assert exit_code_for(shotwire.ConflictError(409, "conflict", "busy")) == ExitCode.USAGE
