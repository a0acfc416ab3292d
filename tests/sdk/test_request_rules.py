"""The SDK refuses, before sending, the user agents, headers and cookies the server answers with a 422: the
same field, the same rule, the same message. Both check with the contract's models (shotwire_contract, which
the SDK ships); the tests below feed the server's submission path and the SDK's the same values, so the SDK's
own part (snake_case names, the error it raises, what it sends) is held to the server's answers.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import ValidationError

import shotwire
from shotwire import models as sdk
from shotwire_core import models as core
from shotwire_core.errors import problem_from_pydantic
from tests.unit.test_option_validation import BAD_COOKIE_DOMAINS

URL = "https://example.com/"
HTTP_CONTROLS = [chr(c) for c in (*range(0x00, 0x09), *range(0x0A, 0x20), 0x7F)]
ALL_CONTROLS = [chr(c) for c in (*range(0x00, 0x20), 0x7F)]


def cookie(**fields: Any) -> dict[str, Any]:
    return {"name": "a", "value": "b", **fields}


def rules(model: type[Any], data: dict[str, Any]) -> list[tuple[str, str]]:
    """(location, rule) of each error `model` raises for `data`; [] when it accepts it."""
    try:
        model.model_validate(data)
    except ValidationError as error:
        return [(".".join(str(part) for part in e["loc"]), e["type"]) for e in error.errors()]
    return []


# --- each rule, on the SDK's models alone ---------------------------------------------------------------

Options = sdk.ScreenshotOptions
# (the rule, the SDK model, the data, where the error is)
RULES: list[tuple[str, type[Any], dict[str, Any], str]] = [
    ("cookie_name", sdk.Cookie, cookie(name="a;b"), "name"),
    ("cookie_name", sdk.Cookie, cookie(name="a=b"), "name"),
    ("cookie_name", sdk.Cookie, cookie(name="a b"), "name"),
    ("cookie_name", sdk.Cookie, cookie(name="a\tb"), "name"),
    ("cookie_value", sdk.Cookie, cookie(value="s3cret;Path=/"), "value"),
    ("cookie_value", sdk.Cookie, cookie(value="s3cret\r\n"), "value"),
    ("cookie_value", sdk.Cookie, cookie(value="a\tb"), "value"),
    ("cookie_value", sdk.Cookie, cookie(value=" padded"), "value"),
    ("cookie_too_large", sdk.Cookie, cookie(name="n", value="v" * 4096), "value"),
    ("cookie_too_large", sdk.Cookie, cookie(name="n", value="é" * 2048), "value"),
    ("cookie_domain", sdk.Cookie, cookie(domain="https://example.com"), "domain"),
    ("cookie_domain", sdk.Cookie, cookie(domain="example.com:8443"), "domain"),
    ("cookie_domain", sdk.Cookie, cookie(domain="example.com/path"), "domain"),
    ("cookie_domain", sdk.Cookie, cookie(domain="[::zz]"), "domain"),
    ("cookie_path", sdk.Cookie, cookie(path="app"), "path"),
    ("cookie_path", sdk.Cookie, cookie(path="/a;b"), "path"),
    ("cookie_path", sdk.Cookie, cookie(path="/a\nb"), "path"),
    ("cookie_prefix", sdk.Cookie, cookie(name="__Secure-id"), "secure"),
    ("cookie_prefix", sdk.Cookie, cookie(name="__host-id", secure=False), "secure"),
    ("cookie_prefix", sdk.Cookie, cookie(name="__Host-id", secure=True, domain=".example.com"), "domain"),
    ("cookie_prefix", sdk.Cookie, cookie(name="__Host-id", secure=True, path="/app"), "path"),
    ("samesite_none_insecure", sdk.Cookie, cookie(sameSite="None"), "sameSite"),
    ("samesite_none_insecure", sdk.Cookie, cookie(same_site="None", secure=False), "same_site"),
    ("control_character", Options, {"url": URL, "userAgent": "Mozilla/5.0\r\nX-Injected: 1"}, "userAgent"),
    ("control_character", Options, {"url": URL, "user_agent": "Mozilla/5.0\x00"}, "user_agent"),
    ("control_character", Options, {"url": URL, "userAgent": "agent\x7f"}, "userAgent"),
    ("header_name", Options, {"url": URL, "headers": {"X Trace": "1"}}, "headers"),
    ("header_name", Options, {"url": URL, "headers": {"X-Tracé": "1"}}, "headers"),
    ("header_forbidden", Options, {"url": URL, "headers": {"Host": "evil.example"}}, "headers"),
    ("header_forbidden", Options, {"url": URL, "headers": {"cookie": "a=b"}}, "headers"),
    ("header_value", Options, {"url": URL, "headers": {"X-Trace": "s3cret\nX-Injected: 1"}}, "headers"),
    ("header_value", Options, {"url": URL, "headers": {"X-Trace": "a\x00b"}}, "headers"),
    ("header_value", Options, {"url": URL, "headers": {"X-Trace": "a\x1bb"}}, "headers"),
]


@pytest.mark.parametrize(("rule", "model", "data", "where"), RULES, ids=[f"{i}-{r[0]}" for i, r in enumerate(RULES)])
def test_each_rule_is_refused_by_the_sdk_with_the_servers_rule_name(
    rule: str, model: type[Any], data: dict[str, Any], where: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    assert [(".".join(map(str, e["loc"])), e["type"]) for e in caught.value.errors()] == [(where, rule)]


def test_a_cookie_in_the_options_is_named_by_its_place() -> None:
    options = {"url": URL, "cookies": [cookie(), cookie(name="a;b", value=" x", domain="http://x", path="x")]}
    assert sorted(rules(sdk.ScreenshotOptions, options)) == [
        ("cookies.1.domain", "cookie_domain"),
        ("cookies.1.name", "cookie_name"),
        ("cookies.1.path", "cookie_path"),
        ("cookies.1.value", "cookie_value"),
    ]


def test_nothing_is_sent_and_the_message_does_not_repeat_a_secret() -> None:
    calls: list[httpx.Request] = []
    client = shotwire.Client(api_key="k", transport=httpx.MockTransport(calls.append))  # type: ignore[arg-type]
    with client, pytest.raises(shotwire.InvalidRequestError) as caught:
        client.submit(URL, cookies=[cookie(value="s3cret;x")], headers={"Authorization": "Bearer s3cret\r\n"})
    assert calls == [] and caught.value.client_side
    assert sorted((p["field"], p["rule"]) for p in caught.value.details) == [
        ("cookies.0.value", "cookie_value"),
        ("headers", "header_value"),
    ]
    assert "s3cret" not in str(caught.value) and "U+003B at position 6" in str(caught.value)
    assert "the value of Authorization has U+000D at position 13" in str(caught.value)


def test_a_snake_case_option_is_named_as_it_was_spelled_in_a_readable_message() -> None:
    calls: list[httpx.Request] = []
    client = shotwire.Client(api_key="k", transport=httpx.MockTransport(calls.append))  # type: ignore[arg-type]
    with client, pytest.raises(shotwire.InvalidRequestError) as caught:
        client.submit(URL, user_agent="a\nb", cookies=[cookie(same_site="None")])
    assert calls == []
    assert sorted((p["field"], p["rule"], p["message"]) for p in caught.value.details) == [
        (
            "cookies.0.same_site",
            "samesite_none_insecure",
            "cookies.0.same_site must be Strict or Lax unless secure is true "
            "(Chromium drops a SameSite=None cookie that is not Secure)",
        ),
        ("user_agent", "control_character", "user_agent must not hold control characters (U+000A at position 1)"),
    ]


def test_accepted_cookies_are_sent_as_given() -> None:
    # `secure` is checked even when left out, but it is not sent unless it was set.
    body = sdk.screenshot_body({"url": URL, "cookies": [cookie(), cookie(name="__Host-id", secure=True)]})
    assert body["cookies"] == [{"name": "a", "value": "b"}, {"name": "__Host-id", "value": "b", "secure": True}]


def test_the_sdk_checks_with_the_contracts_own_models() -> None:
    """Not a copy kept equal by a test: the very classes the server validates with."""
    assert sdk.Cookie is core.Cookie and sdk.Clip is core.Clip
    assert issubclass(sdk.ScreenshotOptions, core.ScreenshotRequest)
    assert sdk.ScreenshotOptions.model_fields.keys() == core.ScreenshotRequest.model_fields.keys()
    own = sdk.ScreenshotOptions.__pydantic_decorators__
    inherited = core.ScreenshotRequest.__pydantic_decorators__
    assert own.field_validators.keys() == inherited.field_validators.keys()
    assert own.model_validators.keys() == inherited.model_validators.keys()


# --- parity: the same values through the server's models and the SDK's ---------------------------------

GOOD_COOKIES = [
    cookie(),
    cookie(name="session", value="v", domain="example.com", path="/", secure=True, httpOnly=True, sameSite="Strict"),
    cookie(same_site="Lax", http_only=True),
    *(cookie(name=name) for name in ["a,b", "a(b)", 'a"b', "a/b", "a@b", "é", "__Secure_without_dash"]),
    *(cookie(value=value) for value in ["", "a b", "a,b", 'a"b', "a=b", "a\\b", "é", "{json: true}"]),
    *(
        cookie(domain=domain)
        for domain in ["example.com", ".example.com", "EXAMPLE.com", "bücher.de", "under_score.example", "127.0.0.1"]
    ),
    cookie(domain="[::1]"),
    cookie(domain="example.com", path="/a b/é"),
    cookie(name="n", value="v" * 4095),
    cookie(name="n", value="é" * 2047),
    cookie(sameSite="None", secure=True),
    *(cookie(name=name, secure=True) for name in ["__Secure-id", "__Host-id", "__secure-id", "__HOST-id"]),
    cookie(name="__Host-id", secure=True, domain="example.com", path="/"),
    cookie(name="__Secure-id", secure=True, domain=".example.com", path="/app"),
    cookie(name="__Host-id", secure=True, sameSite="None", httpOnly=True),
]
BAD_COOKIES = [
    *(cookie(name=f"a{c}b") for c in [*ALL_CONTROLS, ";", "=", " "]),
    *(cookie(value=f"a{c}b") for c in [*ALL_CONTROLS, ";"]),
    *(cookie(value=value) for value in [" a", "a ", " "]),
    cookie(name="n", value="v" * 4096),
    cookie(name="n" * 100, value="v" * 4000),
    cookie(name="n", value="é" * 2048),
    *(cookie(domain=domain) for domain in BAD_COOKIE_DOMAINS),
    *(cookie(domain="example.com", path=path) for path in ["", "a", "a/b", "/a;b", "/a\x01", "/a\x7f", "/a\nb"]),
    cookie(sameSite="None"),
    cookie(sameSite="None", secure=False),
    *(cookie(name=name) for name in ["__Secure-id", "__Host-id", "__secure-id", "__HOST-id"]),
    *(cookie(name=name, secure=False) for name in ["__Secure-id", "__Host-id"]),
    cookie(name="__Secure-id", sameSite="None"),
    cookie(name="__Host-id", secure=True, domain=".example.com"),
    cookie(name="__Host-id", secure=True, path="/app"),
    cookie(name="__Host-id", domain=".example.com", path="/app"),
    cookie(name="a;b", value=" x", domain="http://x", path="x", sameSite="None"),
    # the shape: types, lengths and unknown fields
    cookie(name=""),
    cookie(name="n" * 257),
    cookie(value="v" * 4097),
    cookie(domain="x" * 254),
    cookie(path="/" + "p" * 1024),
    cookie(secure="yes"),
    cookie(sameSite="Sometimes"),
    cookie(expires=0),
    {"name": "a"},
]
# Tab and non-ASCII text Chromium sends (as UTF-8) in a header or the user agent.
TEXTS = ["tab\there", "café", "日本語", "\u0085 and \u2028", " padded ", '"quoted", a=b; c']
GOOD_HEADERS = [
    {"X-Ok": "1"},
    {"X-Empty": ""},
    {"Authorization": "Bearer x", "Accept-Language": "fr"},
    {"x" * 100: "1"},
    *({"X-Text": text} for text in TEXTS),
    {f"X-{i}": "v" for i in range(50)},
    {"X-Long": "v" * 8192},
]
BAD_HEADERS = [
    *({name: "1"} for name in ["X Trace", "X:Trace", "X-é", "", "X\r\nY", "X(Y)", 'X"Y', "x" * 101, "X-Tracé"]),
    *({name: "1"} for name in sorted(core.FORBIDDEN_HEADERS)),
    {"Cookie": "a=b"},
    {"HOST": "evil"},
    *({"X-Trace": f"a{c}b"} for c in HTTP_CONTROLS),
    {"X-Ok": "1", "X-Bad": "a\r\nb"},
    {f"X-{i}": "v" for i in range(51)},
    {"X-Long": "v" * 8193},
]
GOOD_USER_AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64)",
    *TEXTS,
    "u" * 1000,
]
BAD_USER_AGENTS = [*(f"agent{c}x" for c in HTTP_CONTROLS), "", "u" * 1001, "Mozilla/5.0\r\nX-Injected: 1"]

OPTIONS: list[dict[str, Any]] = [
    *({"cookies": [c]} for c in GOOD_COOKIES + BAD_COOKIES),
    {"cookies": [cookie(), cookie(name="a;b"), cookie(sameSite="None")]},
    {"cookies": [cookie()] * 51},
    *({"headers": h} for h in GOOD_HEADERS + BAD_HEADERS),
    *({"userAgent": ua} for ua in GOOD_USER_AGENTS + BAD_USER_AGENTS),
    {"userAgent": "a\nb", "headers": {"Host": "x"}, "cookies": [cookie(name="__Host-id", path="/x")]},
]


def server_problems(options: dict[str, Any]) -> list[tuple[str, str, str]]:
    try:
        core.ScreenshotRequest.model_validate({"url": URL, **options})
    except ValidationError as error:
        return sorted((p.field, p.rule, p.message) for p in (problem_from_pydantic(dict(e)) for e in error.errors()))
    return []


def sdk_problems(options: dict[str, Any]) -> list[tuple[str, str, str]]:
    try:
        sdk.screenshot_body({"url": URL, **options})
    except shotwire.InvalidRequestError as error:
        assert error.client_side and error.status == 422 and error.code == "validation_error"
        return sorted((p["field"], p["rule"], p["message"]) for p in error.details)
    return []


def test_the_parity_cases_cover_acceptance_and_every_rule() -> None:
    verdicts = [server_problems(options) for options in OPTIONS]
    assert any(not verdict for verdict in verdicts)
    seen = {rule for verdict in verdicts for _, rule, _ in verdict}
    assert {rule for rule, *_ in RULES} <= seen


@pytest.mark.parametrize("options", OPTIONS, ids=[str(i) for i in range(len(OPTIONS))])
def test_the_sdk_refuses_what_the_server_refuses_naming_the_same_field_rule_and_message(
    options: dict[str, Any],
) -> None:
    assert sdk_problems(options) == server_problems(options)


def test_good_values_are_accepted_and_bad_ones_refused_by_both() -> None:
    for good in GOOD_COOKIES:
        assert rules(core.Cookie, good) == rules(sdk.Cookie, good) == [], good
    for bad in BAD_COOKIES:
        assert rules(core.Cookie, bad) and rules(sdk.Cookie, bad), bad
    for headers in GOOD_HEADERS:
        assert server_problems({"headers": headers}) == sdk_problems({"headers": headers}) == [], headers
    for headers in BAD_HEADERS:
        assert server_problems({"headers": headers}) and sdk_problems({"headers": headers}), headers
    for agent in GOOD_USER_AGENTS:
        assert server_problems({"userAgent": agent}) == sdk_problems({"userAgent": agent}) == [], agent
    for agent in BAD_USER_AGENTS:
        assert server_problems({"userAgent": agent}) and sdk_problems({"userAgent": agent}), agent


# A header name or cookie domain ending in a line break: a `$` in a pattern would let it through (it matches
# before a final "\n"), and Chromium refuses it.
@pytest.mark.parametrize(
    ("options", "rule"),
    [
        ({"headers": {"X-Trace\n": "1"}}, "header_name"),
        ({"cookies": [cookie(domain="example.com\n")]}, "cookie_domain"),
    ],
    ids=["header-name", "cookie-domain"],
)
def test_a_trailing_line_break_is_refused_by_both(options: dict[str, Any], rule: str) -> None:
    assert [problem[1] for problem in sdk_problems(options)] == [rule]
    assert sdk_problems(options) == server_problems(options)


@pytest.mark.parametrize("value", ["2", True, "1.5"])
def test_the_device_scale_factor_is_a_number_on_both_sides(value: Any) -> None:
    options = {"deviceScaleFactor": value}
    assert [problem[1] for problem in sdk_problems(options)] == ["float_type"]
    assert [problem[:2] for problem in sdk_problems(options)] == [problem[:2] for problem in server_problems(options)]
    assert sdk_problems({"deviceScaleFactor": 2}) == server_problems({"deviceScaleFactor": 2}) == []
