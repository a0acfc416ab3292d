"""What the request model lets through to Chromium: the user agent, extra headers and cookies.

The line follows what Chromium 156 was seen to do with Playwright's `extra_http_headers`, `user_agent` and
`add_cookies` (see tests/integration/test_api_options.py, which sends the accepted values to a real Chromium):
what it refuses, or silently drops, is refused here, naming the field and the rule. Header values and the
user agent follow HTTP's stricter field-value rule (no control but TAB), because Chromium sends the other
controls and servers answer them with a 400.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shotwire_core.errors import problem_from_pydantic
from shotwire_core.models import CaptureOptions, Job, ScreenshotRequest, capture_options

URL = "https://example.com/"
HTTP_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]
ALL_CONTROLS = [chr(c) for c in (*range(0x00, 0x20), 0x7F)]


def problems(**fields: Any) -> list[tuple[str, str]]:
    """(field, rule) of each problem, as the API's 422 names them."""
    try:
        ScreenshotRequest.model_validate({"url": URL, **fields})
    except ValidationError as error:
        return [(p.field, p.rule) for p in (problem_from_pydantic(dict(e)) for e in error.errors())]
    return []


def messages(**fields: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        ScreenshotRequest.model_validate({"url": URL, **fields})
    return [problem_from_pydantic(dict(e)).message for e in caught.value.errors()]


def cookie(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "value": "b", **fields}


@pytest.mark.parametrize("control", HTTP_CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_a_control_character_in_the_user_agent_or_a_header_value_is_refused(control: str) -> None:
    assert problems(userAgent=f"agent{control}x") == [("userAgent", "control_character")]
    assert problems(headers={"X-Trace": f"a{control}b"}) == [("headers", "header_value")]


@pytest.mark.parametrize("text", ["tab\there", "café", "日本語", "\u0085 and \u2028", " padded ", '"quoted", a=b; c'])
def test_tab_and_non_ascii_text_pass_as_chromium_sends_them(text: str) -> None:
    # Chromium sends header values and the user agent as UTF-8 and trims the surrounding spaces itself.
    assert problems(userAgent=text, headers={"X-Text": text}) == []


def test_an_empty_header_value_is_a_header_chromium_sends() -> None:
    assert problems(headers={"X-Empty": ""}) == []


@pytest.mark.parametrize("name", ["X Trace", "X:Trace", "X-é", "", "X\r\nY", "X(Y)", 'X"Y', "x" * 101])
def test_a_header_name_must_be_an_http_token(name: str) -> None:
    assert problems(headers={name: "1"}) == [("headers", "header_name")]


def test_the_message_names_the_header_but_never_repeats_a_secret_value() -> None:
    (text,) = messages(headers={"Authorization": "Bearer s3cret\r\nX-Evil: 1"})
    assert text == "headers must not hold control characters: the value of Authorization has U+000D at position 13"
    (cookie_text,) = messages(cookies=[cookie(value="s3cret;x")])
    assert "s3cret" not in cookie_text and "U+003B at position 6" in cookie_text


def test_messages_read_as_sentences_about_the_field() -> None:
    assert messages(headers={"Host": "evil"}) == ["headers cannot set Host: the browser sets it"]
    assert messages(userAgent="a\nb") == ["userAgent must not hold control characters (U+000A at position 1)"]
    assert messages(cookies=[cookie(sameSite="None")]) == [
        "cookies.0.sameSite must be Strict or Lax unless secure is true "
        "(Chromium drops a SameSite=None cookie that is not Secure)"
    ]


@pytest.mark.parametrize("refused", [*ALL_CONTROLS, ";", "=", " "], ids=lambda c: f"U+{ord(c):04X}")
def test_cookie_names_refuse_what_chromium_refuses(refused: str) -> None:
    assert problems(cookies=[cookie(name=f"a{refused}b")]) == [("cookies.0.name", "cookie_name")]


@pytest.mark.parametrize("name", ["a,b", "a(b)", 'a"b', "a/b", "a@b", "é", "__Secure_without_dash"])
def test_cookie_names_chromium_keeps_are_accepted(name: str) -> None:
    assert problems(cookies=[cookie(name=name)]) == []


@pytest.mark.parametrize("refused", [*ALL_CONTROLS, ";"], ids=lambda c: f"U+{ord(c):04X}")
def test_cookie_values_refuse_controls_tab_included_and_semicolons(refused: str) -> None:
    assert problems(cookies=[cookie(value=f"a{refused}b")]) == [("cookies.0.value", "cookie_value")]


@pytest.mark.parametrize("value", [" a", "a ", " "])
def test_cookie_values_with_outer_spaces_are_refused(value: str) -> None:
    assert problems(cookies=[cookie(value=value)]) == [("cookies.0.value", "cookie_value")]


@pytest.mark.parametrize("value", ["", "a b", "a,b", 'a"b', "a=b", "a\\b", "é", "{json: true}"])
def test_cookie_values_chromium_keeps_are_accepted(value: str) -> None:
    assert problems(cookies=[cookie(value=value)]) == []


def test_a_cookie_is_at_most_4096_bytes_name_and_value_together() -> None:
    assert problems(cookies=[cookie(name="n", value="v" * 4095)]) == []
    assert problems(cookies=[cookie(name="n", value="v" * 4096)]) == [("cookies.0.value", "cookie_too_large")]
    # Counted in bytes, as Chromium does: two-byte characters reach the limit at half the length.
    assert problems(cookies=[cookie(name="n", value="é" * 2048)]) == [("cookies.0.value", "cookie_too_large")]


# Cookie domains Chromium refuses or would not match (the SDK's parity tests use them too).
BAD_COOKIE_DOMAINS = [
    "https://example.com",
    "example.com:443",
    "example.com/path",
    "exa mple.com",
    "a..com",
    "-a.com",
    "a-.com",
    "ex;ample.com",
    "example.com.",
    ".",
    "",
    "[::zz]",
    "x" * 64 + ".com",
    "tab\t.com",
]


@pytest.mark.parametrize(
    "domain",
    BAD_COOKIE_DOMAINS,
)
def test_a_cookie_domain_must_be_a_plausible_host(domain: str) -> None:
    # Chromium takes most of these and makes a cookie for some other host ("http", "ex", "exa%20mple.com").
    assert problems(cookies=[cookie(domain=domain)]) == [("cookies.0.domain", "cookie_domain")]


@pytest.mark.parametrize(
    "domain", ["example.com", ".example.com", "EXAMPLE.com", "bücher.de", "under_score.example", "127.0.0.1", "[::1]"]
)
def test_plausible_cookie_domains_are_accepted(domain: str) -> None:
    assert problems(cookies=[cookie(domain=domain)]) == []


@pytest.mark.parametrize("path", ["", "a", "a/b", "/a;b", "/a\x01", "/a\x7f", "/a\nb"])
def test_a_cookie_path_starts_with_a_slash_and_holds_no_semicolon_or_control(path: str) -> None:
    assert problems(cookies=[cookie(domain="example.com", path=path)]) == [("cookies.0.path", "cookie_path")]


def test_a_cookie_path_may_hold_spaces_and_non_ascii_which_chromium_escapes() -> None:
    assert problems(cookies=[cookie(domain="example.com", path="/a b/é")]) == []


def test_samesite_none_needs_secure_whether_secure_is_false_or_left_out() -> None:
    assert problems(cookies=[cookie(sameSite="None")]) == [("cookies.0.sameSite", "samesite_none_insecure")]
    assert problems(cookies=[cookie(sameSite="None", secure=False)]) == [
        ("cookies.0.sameSite", "samesite_none_insecure")
    ]
    assert problems(cookies=[cookie(sameSite="None", secure=True)]) == []


@pytest.mark.parametrize("name", ["__Secure-id", "__Host-id", "__secure-id", "__HOST-id"])
def test_prefixed_cookies_must_be_secure_whatever_the_case_of_the_prefix(name: str) -> None:
    assert problems(cookies=[cookie(name=name)]) == [("cookies.0.secure", "cookie_prefix")]
    assert problems(cookies=[cookie(name=name, secure=False)]) == [("cookies.0.secure", "cookie_prefix")]
    assert problems(cookies=[cookie(name=name, secure=True)]) == []


def test_a_host_cookie_is_host_only_with_the_root_path() -> None:
    host = cookie(name="__Host-id", secure=True)
    assert problems(cookies=[{**host, "domain": "example.com", "path": "/"}]) == []
    assert problems(cookies=[{**host, "domain": ".example.com"}]) == [("cookies.0.domain", "cookie_prefix")]
    assert problems(cookies=[{**host, "path": "/app"}]) == [("cookies.0.path", "cookie_prefix")]
    assert problems(cookies=[cookie(name="__Secure-id", secure=True, domain=".example.com", path="/app")]) == []


def test_every_broken_rule_of_every_cookie_is_named_at_once() -> None:
    body = [cookie(), cookie(name="a;b", value=" x", domain="http://x", path="x", sameSite="None")]
    assert sorted(problems(cookies=body)) == [
        ("cookies.1.domain", "cookie_domain"),
        ("cookies.1.name", "cookie_name"),
        ("cookies.1.path", "cookie_path"),
        ("cookies.1.sameSite", "samesite_none_insecure"),
        ("cookies.1.value", "cookie_value"),
    ]


def test_a_job_stored_before_these_rules_still_reads_back() -> None:
    # Given a queued job whose cookie Chromium took but today's rules refuse (a space in its name)
    stored = {"name": "a b", "value": " x", "domain": "http://x", "sameSite": "None"}
    options = {"url": URL, "cookies": [stored]}
    item = {
        "tenantId": "t",
        "jobId": "job_1",
        "status": "queued",
        "options": options,
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
    }
    # When the API or the capture function reads it, Then it loads as it was written
    assert Job.model_validate(item).options.cookies[0].name == "a b"
    assert CaptureOptions.model_validate(options).cookies[0].domain == "http://x"


def test_accepted_cookies_reach_the_capture_options_unchanged() -> None:
    request = ScreenshotRequest.model_validate(
        {"url": URL, "cookies": [cookie(name="__Host-id", secure=True, sameSite="None", httpOnly=True)]}
    )
    dumped = capture_options(request).model_dump(mode="json")["cookies"]
    assert dumped == [
        {
            "name": "__Host-id",
            "value": "b",
            "domain": None,
            "path": "/",
            "secure": True,
            "httpOnly": True,
            "sameSite": "None",
        }
    ]
