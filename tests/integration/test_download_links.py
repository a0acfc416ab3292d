"""Download links: they point at the API, hold for their stated lifetime, and redirect to a fresh presigned URL.

The API function on moto, invoked with the local gateway's proxy events; the image is fetched from moto
through the presigned URL the redirect names."""

from __future__ import annotations

import time
from types import ModuleType
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from shotwire_core.config import load_stack_config
from shotwire_core.links import REDIRECT_TTL_SECONDS, DownloadLinks
from shotwire_core.settings import get_settings
from tests.integration.conftest import KEY_B, Aws
from tests.integration.test_api import API_HOST, call
from tests.integration.test_api_jobs import _finish, _submit

IMAGE = b"\x89PNG fake"  # what _finish stores


def _completed_link(aws_stack: Aws, api: ModuleType) -> tuple[str, str]:
    job_id = _submit(api)
    _finish(aws_stack, job_id)
    status, job, _ = call(api, "GET", f"/v1/screenshots/{job_id}")
    assert status == 200, job
    return job_id, str(job["screenshotUrl"])


def _follow(api: ModuleType, link: str) -> tuple[int, dict, dict[str, str]]:  # type: ignore[type-arg]
    """GET the link as anyone holding it would: no API key."""
    parts = urlsplit(link)
    return call(api, "GET", f"{parts.path}?{parts.query}", key=None, content_type=None)


def _fetch_presigned(url: str) -> bytes:
    """Read the object a presigned URL names (moto runs in this process, so boto3 stands in for the GET)."""
    parts = urlsplit(url)
    bucket = parts.hostname.split(".")[0] if parts.hostname else ""
    body: bytes = (
        boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=parts.path.lstrip("/"))["Body"].read()
    )
    return body


def _secret() -> bytes:
    name = load_stack_config().download_link_secret
    value: str = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(SecretId=name)["SecretString"]
    return value.encode()


def test_a_link_points_at_the_api_for_its_whole_lifetime(aws_stack: Aws, api_module: ModuleType) -> None:
    before = time.time()
    job_id, link = _completed_link(aws_stack, api_module)
    parts = urlsplit(link)
    assert f"{parts.scheme}://{parts.netloc}" == f"http://{API_HOST}"
    assert parts.path == f"/v1/downloads/tenant-a/{job_id}.png"
    query = parse_qs(parts.query)
    assert set(query) == {"expires", "signature"}
    # The stated lifetime is the configured one, and nothing in the link depends on a role's session.
    ttl = get_settings().download_url_ttl_seconds
    assert before + ttl - 1 <= int(query["expires"][0]) <= time.time() + ttl
    assert "X-Amz" not in link and "Credential" not in link


def test_following_a_link_redirects_to_a_fresh_short_presigned_url(aws_stack: Aws, api_module: ModuleType) -> None:
    job_id, link = _completed_link(aws_stack, api_module)
    status, body, headers = _follow(api_module, link)
    assert status == 302, body
    location = headers["Location"]
    presigned = parse_qs(urlsplit(location).query)
    assert presigned["X-Amz-Expires"] == [str(REDIRECT_TTL_SECONDS)]
    assert urlsplit(location).path.endswith(f"/tenant-a/{job_id}.png")
    assert headers["Cache-Control"] == "no-store"
    assert _fetch_presigned(location) == IMAGE


@pytest.mark.parametrize(
    ("alter", "code"),
    [
        (lambda link: link.replace("signature=", "signature=x"), "link_invalid"),
        (lambda link: link[:-2] + ("AA" if not link.endswith("AA") else "BB"), "link_invalid"),
        (lambda link: link.replace("expires=", "expires=9"), "link_invalid"),  # a longer life is not ours to give
        (lambda link: link.replace("/tenant-a/", "/tenant-b/"), "link_invalid"),  # another tenant's path
        (lambda link: link.replace(".png", ".jpeg"), "link_invalid"),
        (lambda link: link.split("?")[0], "link_invalid"),
        (lambda link: link.split("&signature")[0], "link_invalid"),
    ],
)
def test_an_altered_link_is_refused(aws_stack: Aws, api_module: ModuleType, alter, code: str) -> None:  # type: ignore[no-untyped-def]
    _, link = _completed_link(aws_stack, api_module)
    status, body, headers = _follow(api_module, alter(link))
    assert (status, body["error"]["code"]) == (403, code), body
    assert "Location" not in headers


def test_an_expired_link_is_refused_and_says_how_to_get_a_new_one(aws_stack: Aws, api_module: ModuleType) -> None:
    job_id, _ = _completed_link(aws_stack, api_module)
    signer = DownloadLinks(f"http://{API_HOST}", _secret, clock=lambda: time.time() - 2 * 3600)
    expired = signer.download_url(f"tenant-a/{job_id}.png", 3600)
    status, body, _ = _follow(api_module, expired)
    assert (status, body["error"]["code"]) == (403, "link_expired")
    assert f"GET /v1/screenshots/{job_id}" in body["error"]["message"]
    # A link signed with another secret (another stack's) is not ours.
    foreign = DownloadLinks(f"http://{API_HOST}", lambda: b"another stack").download_url(f"tenant-a/{job_id}.png", 60)
    assert _follow(api_module, foreign)[1]["error"]["code"] == "link_invalid"


def test_a_link_to_a_deleted_job_answers_404(aws_stack: Aws, api_module: ModuleType) -> None:
    job_id, link = _completed_link(aws_stack, api_module)
    assert call(api_module, "DELETE", f"/v1/screenshots/{job_id}")[0] == 204
    status, body, _ = _follow(api_module, link)
    assert (status, body["error"]["code"]) == (404, "image_gone"), body


def test_a_link_needs_no_key_and_a_wrong_key_changes_nothing(aws_stack: Aws, api_module: ModuleType) -> None:
    _, link = _completed_link(aws_stack, api_module)
    parts = urlsplit(link)
    status, _, _ = call(api_module, "GET", f"{parts.path}?{parts.query}", key=KEY_B, content_type=None)
    assert status == 302  # the link is the credential; another tenant's key neither helps nor hurts


def test_the_link_secret_never_reaches_the_logs(
    aws_stack: Aws, api_module: ModuleType, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    _, link = _completed_link(aws_stack, api_module)
    _follow(api_module, link)
    _follow(api_module, link.replace("signature=", "signature=x"))
    secret = _secret().decode()
    assert secret not in capsys.readouterr().out + caplog.text
