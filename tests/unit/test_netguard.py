"""Tests for shotwire_core.netguard, the single "may we connect there?" decision (SSRF guard).

No network is used. DNS is faked with FakeResolver. The real resolver is only allowed for
"localhost" (enforced by the autouse fixture below).
"""

from __future__ import annotations

import ipaddress
import pickle
import socket
import urllib.parse
from typing import Any

import pytest

from shotwire_core.netguard import (
    BlockedDestinationError,
    check_destination,
    check_url,
    is_public_address,
    parse_ip_literal,
    resolve_allowed,
)

V4 = ipaddress.IPv4Address
V6 = ipaddress.IPv6Address


# --------------------------------------------------------------------------------------------
# Fixtures and helpers
# --------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_real_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any real DNS lookup other than localhost, so the tests never touch the network."""
    real = socket.getaddrinfo

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "localhost":
            raise AssertionError(f"test tried real DNS for {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


class FakeResolver:
    """Stands in for socket.getaddrinfo: fixed answers per name, and it records every call."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.calls: list[tuple[Any, Any, dict[str, Any]]] = []

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        self.calls.append((host, port, kwargs))
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        out: list[tuple[Any, ...]] = []
        for address in self.answers[host]:
            if ":" in address:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port)))
        return out


def never_called(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("resolver must not be called")


def blocked(code: str) -> Any:
    """Context manager: expect a BlockedDestinationError with this code. Also yields it."""
    return _Blocked(code)


class _Blocked:
    def __init__(self, code: str) -> None:
        self.code = code
        self._raises = pytest.raises(BlockedDestinationError)

    def __enter__(self) -> Any:
        self.info = self._raises.__enter__()
        return self.info

    def __exit__(self, *exc: Any) -> Any:
        suppressed = self._raises.__exit__(*exc)
        assert self.info.value.code == self.code, f"code {self.info.value.code!r} ({self.info.value.reason})"
        assert self.info.value.reason, "reason must be non-empty"
        return suppressed


# --------------------------------------------------------------------------------------------
# The error type
# --------------------------------------------------------------------------------------------


def test_error_is_value_error_with_reason_and_code() -> None:
    err = BlockedDestinationError("address 10.0.0.1 is private", "blocked_address")
    assert isinstance(err, ValueError)
    assert err.reason == "address 10.0.0.1 is private"
    assert err.code == "blocked_address"
    assert str(err) == err.reason


def test_error_survives_pickling() -> None:
    err = pickle.loads(pickle.dumps(BlockedDestinationError("nope", "dns")))
    assert (err.reason, err.code) == ("nope", "dns")


# --------------------------------------------------------------------------------------------
# parse_ip_literal
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        # Plain and trailing dot
        ("127.0.0.1", V4("127.0.0.1")),
        ("127.0.0.1.", V4("127.0.0.1")),
        ("8.8.8.8", V4("8.8.8.8")),
        # One decimal integer
        ("2130706433", V4("127.0.0.1")),
        ("2130706433.", V4("127.0.0.1")),
        ("0", V4("0.0.0.0")),
        ("4294967295", V4("255.255.255.255")),
        ("2852039166", V4("169.254.169.254")),
        # Octal
        ("0177.0.0.1", V4("127.0.0.1")),
        ("017700000001", V4("127.0.0.1")),
        ("0177.00.00.01", V4("127.0.0.1")),
        ("012.0.0.1", V4("10.0.0.1")),
        # Hex
        ("0x7f.0.0.1", V4("127.0.0.1")),
        ("0x7f000001", V4("127.0.0.1")),
        ("0X7F000001", V4("127.0.0.1")),
        ("0xA9FEA9FE", V4("169.254.169.254")),
        ("0x", V4("0.0.0.0")),
        ("0xffffffff", V4("255.255.255.255")),
        # Short forms: the last part fills the remaining bytes
        ("127.1", V4("127.0.0.1")),
        ("10.1.1", V4("10.1.0.1")),
        ("10.65535", V4("10.0.255.255")),
        ("192.168.257", V4("192.168.1.1")),
        ("169.254.43518", V4("169.254.169.254")),
        # Mixed radices
        ("0x7f.0.0.01", V4("127.0.0.1")),
        ("0xa.0.0377", V4("10.0.0.255")),
        ("0x7f.1.0x1", V4("127.1.0.1")),
        ("0300.0xa8.1.1", V4("192.168.1.1")),
        ("0xa9.0376.43518", V4("169.254.169.254")),
        # Browser-style host mapping: percent-encoding, full-width digits, other dots, ignored chars
        ("%31%32%37.0.0.1", V4("127.0.0.1")),
        ("%30x7f.1", V4("127.0.0.1")),
        ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", V4("127.0.0.1")),
        ("127\u30020\u30020\u30021", V4("127.0.0.1")),
        ("127\uff0e0\uff0e0\uff0e1", V4("127.0.0.1")),
        ("127.0.0\u00ad.1", V4("127.0.0.1")),
        ("127.0.0\u200b.1", V4("127.0.0.1")),
        # IPv6: brackets, zone ids, embedded IPv4
        ("::1", V6("::1")),
        ("[::1]", V6("::1")),
        ("[::]", V6("::")),
        ("fe80::1%eth0", V6("fe80::1")),
        ("[fe80::1%25eth0]", V6("fe80::1")),
        ("::ffff:127.0.0.1", V6("::ffff:7f00:1")),
        ("[::ffff:7f00:1]", V6("::ffff:7f00:1")),
        ("::127.0.0.1", V6("::7f00:1")),
        ("64:ff9b::10.0.0.1", V6("64:ff9b::a00:1")),
        ("2002:7f00:1::", V6("2002:7f00:1::")),
        ("2606:4700:4700::1111", V6("2606:4700:4700::1111")),
        ("[2606:4700:4700::1111]", V6("2606:4700:4700::1111")),
    ],
)
def test_parse_ip_literal_recognises_every_spelling(host: str, expected: Any) -> None:
    assert parse_ip_literal(host) == expected


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "example.com.",
        "localhost",
        "EXAMPLE.COM",
        "1.2.3.4.example.com",
        "127.0.0.1.nip.io",
        "0x7f.example",
        "example.0x7g",
        "1e100.net",
        "123abc",
        "a1",
        "xn--mnchen-3ya.de",
        "münchen.de",
        "sub-domain.co.uk",
    ],
)
def test_parse_ip_literal_returns_none_for_hostnames(host: str) -> None:
    assert parse_ip_literal(host) is None


@pytest.mark.parametrize(
    "host",
    [
        "1.2.3.4.5",  # too many parts
        "1.2.3.4.5.",
        "256.0.0.1",  # a non-last part over 255
        "1.2.3.256",  # last part over its byte budget
        "1.16777216",
        "4294967296",  # 2**32
        "0x100000000",  # hex overflow
        "1.2.3.09",  # invalid octal
        "08",
        "1..2.3",  # empty middle part
        "example.123",  # last label numeric, so WHATWG wants IPv4
        "example.0x10",
        "[127.0.0.1]",  # IPv4 is not allowed in brackets
        "[not-ipv6]",
        "[::1",
        "::g",
        "1:2",
        "",
        "a..b",
        ".",
        "exa mple.com",
        "127.0.0.1\\.example.com",
        "evil.com%2f@127.0.0.1",
        "%ff.example.com",
    ],
)
def test_parse_ip_literal_rejects_invalid_hosts(host: str) -> None:
    with blocked("host"):
        parse_ip_literal(host)


# --------------------------------------------------------------------------------------------
# is_public_address
# --------------------------------------------------------------------------------------------

PUBLIC_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "100.63.255.255",  # just below CGNAT
    "100.128.0.0",  # just above CGNAT
    "172.15.255.255",  # just below 172.16/12
    "172.32.0.0",  # just above 172.16/12
    "169.253.255.255",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.254",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",
    "::ffff:1.1.1.1",
    "64:ff9b::8.8.8.8",  # what DNS64 returns for a public site in an IPv6-only VPC
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]

# (address, the IPv4 it embeds or None). When an embedded IPv4 is named, the reason must name it,
# which shows that the embedded check fired and not only a range check on the outer address.
NON_PUBLIC_ADDRESSES: list[tuple[str, str | None]] = [
    ("127.0.0.1", None),
    ("127.255.255.254", None),
    ("10.0.0.1", None),
    ("10.255.255.255", None),
    ("172.16.0.1", None),
    ("172.31.255.255", None),
    ("192.168.0.1", None),
    ("192.168.255.255", None),
    ("169.254.169.254", None),  # cloud metadata
    ("169.254.0.1", None),
    ("169.254.170.2", None),  # ECS task metadata
    ("100.64.0.1", None),  # CGNAT
    ("100.127.255.254", None),
    ("0.0.0.0", None),
    ("0.1.2.3", None),
    ("224.0.0.1", None),
    ("239.255.255.250", None),
    ("255.255.255.255", None),
    ("240.0.0.1", None),
    ("198.18.0.1", None),  # benchmarking
    ("198.19.255.255", None),
    ("192.0.2.1", None),  # documentation
    ("198.51.100.7", None),
    ("203.0.113.9", None),
    ("192.0.0.1", None),
    ("192.0.0.9", None),
    ("192.88.99.1", None),
    ("::", None),
    ("::1", None),
    ("fc00::1", None),
    ("fd12:3456:789a::1", None),
    ("fd00:ec2::254", None),  # AWS IPv6 metadata
    ("fe80::1", None),
    ("fe80::1%eth0", None),
    ("fec0::1", None),
    ("ff02::1", None),
    ("ff05::1:3", None),
    ("2001:db8::1", None),
    ("3fff::1", None),
    ("100::1", None),
    ("2001:2::1", None),
    ("5f00::1", None),
    ("64:ff9b:1::a00:1", None),  # local-use NAT64 is never public
    ("4000::1", None),  # unallocated
    ("::ffff:0:808:808", None),  # IPv4-translated (SIIT), not routed
    ("::ffff:127.0.0.1", "127.0.0.1"),
    ("::ffff:7f00:1", "127.0.0.1"),
    ("::ffff:10.0.0.1", "10.0.0.1"),
    ("::ffff:169.254.169.254", "169.254.169.254"),
    ("::ffff:0.0.0.0", "0.0.0.0"),
    ("::127.0.0.1", "127.0.0.1"),  # IPv4-compatible
    ("::10.0.0.1", "10.0.0.1"),
    ("::8.8.8.8", None),  # IPv4-compatible is deprecated and never public
    ("64:ff9b::127.0.0.1", "127.0.0.1"),  # NAT64
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    ("64:ff9b::192.168.1.1", "192.168.1.1"),
    ("2002:7f00:1::1", "127.0.0.1"),  # 6to4
    ("2002:a00:1::", "10.0.0.1"),
    ("2002:a9fe:a9fe::1", "169.254.169.254"),
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"),  # Teredo, client 127.0.0.1 (inverted)
    ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "10.0.0.1"),  # Teredo, server 10.0.0.1
    ("2001:0:4136:e378:8000:63bf:f7f7:f7f7", None),  # Teredo with public ends is still not routable
]


@pytest.mark.parametrize("address", PUBLIC_ADDRESSES)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is True
    assert is_public_address(address) is True


@pytest.mark.parametrize(("address", "embedded"), NON_PUBLIC_ADDRESSES)
def test_non_public_addresses_are_not_public(address: str, embedded: str | None) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is False
    assert is_public_address(address) is False
    with blocked("blocked_address") as info:
        resolve_allowed(address, 443, allow_private=False, resolver=never_called)
    if embedded is not None:
        assert "embeds" in info.value.reason and embedded in info.value.reason


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.0.0.1/", "address 10.0.0.1 is private"),
        ("http://127.0.0.1/", "address 127.0.0.1 is loopback"),
        ("http://169.254.169.254/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://255.255.255.255/", "broadcast"),
        ("http://198.18.0.1/", "benchmarking"),
        ("http://203.0.113.9/", "documentation"),
        ("http://[2001:db8::1]/", "documentation"),
        ("http://[fec0::1]/", "site-local"),
        ("http://[fd12::1]/", "unique local"),
        ("http://[64:ff9b:1::a00:1]/", "local-use NAT64"),
        ("http://[::ffff:10.0.0.1]/", "embeds IPv4-mapped address 10.0.0.1, which is private"),
        ("http://[64:ff9b::a00:1]/", "embeds NAT64 address 10.0.0.1"),
        ("http://[2002:a00:1::]/", "embeds 6to4 address 10.0.0.1"),
        ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "embeds Teredo client address 127.0.0.1"),
    ],
)
def test_blocked_reasons_are_readable(url: str, words: str) -> None:
    with blocked("blocked_address") as info:
        check_url(url, allow_private=False)
    assert words in info.value.reason


def test_is_public_address_rejects_hostnames() -> None:
    with blocked("host"):
        is_public_address("example.com")


# --------------------------------------------------------------------------------------------
# check_url
# --------------------------------------------------------------------------------------------

# (URL, address the host really denotes). Each must be blocked, whatever the spelling.
BLOCKED_URLS = [
    ("http://127.0.0.1/", "127.0.0.1"),
    ("http://127.0.0.1:8080/admin", "127.0.0.1"),
    ("HTTP://127.0.0.1/", "127.0.0.1"),
    ("http://2130706433/", "127.0.0.1"),  # decimal
    ("http://0177.0.0.1/", "127.0.0.1"),  # octal
    ("http://017700000001/", "127.0.0.1"),
    ("http://0x7f.0.0.1/", "127.0.0.1"),  # hex
    ("http://0x7f000001/", "127.0.0.1"),
    ("http://127.1/", "127.0.0.1"),  # short
    ("http://10.1/", "10.0.0.1"),
    ("http://0x7f.0.0.01/", "127.0.0.1"),  # mixed
    ("http://0300.0xa8.1.1/", "192.168.1.1"),
    ("http://127.0.0.1./", "127.0.0.1"),  # trailing dot
    ("http://0x7f000001./", "127.0.0.1"),
    ("http://%31%32%37.0.0.1/", "127.0.0.1"),  # percent-encoded
    ("http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", "127.0.0.1"),  # full-width
    ("http://127\u30020\u30020\u30021/", "127.0.0.1"),  # ideographic full stop
    ("http://127.0.0.\t1/", "127.0.0.1"),  # tab is stripped by browsers and urlsplit alike
    ("http://[::1]/", "::1"),  # bracketed IPv6
    ("http://[::1]:8080/", "::1"),
    ("http://[::]/", "::"),
    ("http://[::ffff:127.0.0.1]/", "127.0.0.1"),  # IPv4-mapped
    ("http://[::ffff:7f00:1]/", "127.0.0.1"),
    ("http://[::127.0.0.1]/", "127.0.0.1"),  # IPv4-compatible
    ("http://[64:ff9b::7f00:1]/", "127.0.0.1"),  # NAT64
    ("http://[64:ff9b::10.0.0.1]/", "10.0.0.1"),
    ("http://[2002:7f00:1::1]/", "127.0.0.1"),  # 6to4
    ("http://[2002:a00:1::]/", "10.0.0.1"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "127.0.0.1"),  # Teredo
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),  # metadata v4
    ("http://0xa9fea9fe/", "169.254.169.254"),
    ("http://2852039166/", "169.254.169.254"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),  # metadata v6
    ("http://[::ffff:a9fe:a9fe]/", "169.254.169.254"),
    ("http://100.64.0.1/", "100.64.0.1"),  # CGNAT
    ("http://100.127.255.254/", "100.127.255.254"),
    ("http://0.0.0.0/", "0.0.0.0"),  # unspecified
    ("http://0/", "0.0.0.0"),
    ("http://0x/", "0.0.0.0"),
    ("http://224.0.0.1/", "224.0.0.1"),  # multicast
    ("http://[ff02::1]/", "ff02::1"),
    ("http://255.255.255.255/", "255.255.255.255"),  # broadcast
    ("http://0xffffffff/", "255.255.255.255"),
    ("http://4294967295/", "255.255.255.255"),
    ("http://10.0.0.1/", "10.0.0.1"),  # private
    ("http://172.16.0.1/", "172.16.0.1"),
    ("http://172.31.255.255/", "172.31.255.255"),
    ("http://192.168.1.1/", "192.168.1.1"),
    ("http://[fc00::1]/", "fc00::1"),
    ("http://[fd12:3456::1]/", "fd12:3456::1"),
    ("http://[fe80::1]/", "fe80::1"),  # link-local
    ("http://[fe80::1%25eth0]/", "fe80::1"),
    ("http://[fec0::1]/", "fec0::1"),  # site-local
    ("http://198.18.0.1/", "198.18.0.1"),  # benchmarking
    ("http://192.0.2.1/", "192.0.2.1"),  # documentation
    ("http://[2001:db8::1]/", "2001:db8::1"),
    ("http://192.0.0.1/", "192.0.0.1"),
    ("http://240.0.0.1/", "240.0.0.1"),
    ("https://127.0.0.1:443/", "127.0.0.1"),
]


@pytest.mark.parametrize(("url", "address"), BLOCKED_URLS)
def test_check_url_blocks_every_spelling_of_a_non_public_address(url: str, address: str) -> None:
    with blocked("blocked_address") as info:
        check_url(url, allow_private=False)
    assert address in info.value.reason


@pytest.mark.parametrize(("url", "address"), BLOCKED_URLS)
def test_check_destination_blocks_literals_without_dns(url: str, address: str) -> None:
    with blocked("blocked_address"):
        check_destination(url, allow_private=False, resolver=never_called)


CREDENTIAL_ENDPOINTS = {"169.254.169.254", "fd00:ec2::254"}


@pytest.mark.parametrize(
    ("url", "address"), [(url, address) for url, address in BLOCKED_URLS if address not in CREDENTIAL_ENDPOINTS]
)
def test_allow_private_lets_non_public_literals_through(url: str, address: str) -> None:
    assert check_url(url, allow_private=True).scheme.lower() in ("http", "https")
    host = urllib.parse.urlsplit(url).hostname or ""
    # For IPv6 the vetted address is the literal itself (even when it embeds an IPv4).
    expected = V6(host.split("%")[0]) if ":" in host else V4(address)
    assert check_destination(url, allow_private=True, resolver=never_called) == [expected]


@pytest.mark.parametrize(
    ("url", "hostname"),
    [
        ("https://example.com/", "example.com"),
        ("https://EXAMPLE.com./", "example.com."),
        ("https://sub.example.co.uk:8443/path?q=1#frag", "sub.example.co.uk"),
        ("http://8.8.8.8/", "8.8.8.8"),
        ("http://1.1.1.1:8080/x", "1.1.1.1"),
        ("http://134744072/", "134744072"),  # 8.8.8.8 in decimal is still public
        ("https://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
        ("http://[::ffff:8.8.8.8]/", "::ffff:8.8.8.8"),
        ("http://[64:ff9b::8.8.8.8]/", "64:ff9b::8.8.8.8"),
        ("https://münchen.de/", "münchen.de"),
        ("https://xn--mnchen-3ya.de/", "xn--mnchen-3ya.de"),
        ("https://1e100.net/", "1e100.net"),
        ("https://127.0.0.1.nip.io/", "127.0.0.1.nip.io"),  # a name: DNS decides (see below)
        ("HTTPS://example.com/", "example.com"),
        ("https://example.com:443/", "example.com"),
        ("https://example.com#@127.0.0.1", "example.com"),  # "@" only in the fragment
        ("https://example.com/?next=http://127.0.0.1/", "example.com"),
    ],
)
def test_check_url_allows_public_destinations(url: str, hostname: str) -> None:
    parts = check_url(url, allow_private=False)
    assert parts.hostname == hostname


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://LOCALHOST/",
        "http://localhost./",
        "http://localhost:8080/",
        "http://foo.localhost/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata.google.internal./",
        "http://ip-10-0-0-1.ec2.internal/",
        "http://printer.local/",
        "http://router.home.arpa/",
        "http://localhost.localdomain/",
        "http://metadata/",
        "http://instance-data/",
        "http://intranet/",  # single-label names resolve via local search domains
        "http://%6c%6fcalhost/",  # percent-encoded
        "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",  # full-width
        "http://local\u00adhost/",  # soft hyphen is ignored by browsers
    ],
)
def test_check_url_blocks_internal_names(url: str) -> None:
    with blocked("host"):
        check_url(url, allow_private=False)
    assert check_url(url, allow_private=True).netloc  # the local stack may use them


@pytest.mark.parametrize(
    "url",
    [
        "http://",
        "http:///path",
        "http:/127.0.0.1/",  # browsers fix this up to a host; urlsplit sees none, so refuse
        "http:127.0.0.1",
        "http:\\\\127.0.0.1\\",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://0x100000000/",
        "http://4294967296/",
        "http://1.2.3.09/",
        "http://example.123/",
        "http://127.0.0.1\\.example.com/",  # browsers see host 127.0.0.1 here
        "http://exa mple.com/",
        "http://exa<mple.com/",
        "http://a..b/",
        "http://[127.0.0.1]/",
        "http://[::1/",
        "http://[not-ipv6]/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://example.com:0/",
        "http://%zz.example.com/",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_check_url_rejects_malformed_hosts(url: str, allow_private: bool) -> None:
    with blocked("host"):
        check_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "http://@example.com/",
        "http://:@example.com/",
        "https://example.com@127.0.0.1/",
        "https://127.0.0.1:80@example.com/",
        "http://example.com\\@127.0.0.1/",
        "http://user%40x:pass@example.com/",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_check_url_rejects_userinfo(url: str, allow_private: bool) -> None:
    with blocked("userinfo"):
        check_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "file://localhost/etc/passwd",
        "ftp://example.com/",
        "javascript:alert(1)",
        "JavaScript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "gopher://127.0.0.1:6379/_SET%20x%201",
        "dict://127.0.0.1:11211/stats",
        "ldap://example.com/",
        "ws://example.com/",
        "view-source:http://example.com/",
        "chrome://settings",
        "about:blank",
        "blob:https://example.com/uuid",
        "example.com",
        "//example.com/",
        "",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
def test_check_url_rejects_other_schemes(url: str, allow_private: bool) -> None:
    with blocked("scheme"):
        check_url(url, allow_private=allow_private)


def test_check_url_rejects_non_string() -> None:
    with blocked("scheme"):
        check_url(b"http://example.com/", allow_private=False)  # type: ignore[arg-type]


def test_allowed_schemes_are_configurable_and_case_insensitive() -> None:
    assert check_url("https://example.com/", allow_private=False, allowed_schemes=("HTTPS",)).scheme == "https"
    with blocked("scheme"):
        check_url("http://example.com/", allow_private=False, allowed_schemes=("HTTPS",))
    assert check_url("wss://example.com/", allow_private=False, allowed_schemes=("wss",)).hostname == "example.com"


def test_check_url_returns_the_split_url() -> None:
    parts = check_url("https://example.com:8443/a/b?c=d#e", allow_private=False)
    assert (parts.scheme, parts.hostname, parts.port, parts.path, parts.query, parts.fragment) == (
        "https",
        "example.com",
        8443,
        "/a/b",
        "c=d",
        "e",
    )


# --------------------------------------------------------------------------------------------
# resolve_allowed and check_destination (DNS faked)
# --------------------------------------------------------------------------------------------


def test_resolve_returns_addresses_in_resolver_order() -> None:
    resolver = FakeResolver({"example.com": ["2606:2800:220:1::", "93.184.216.34", "93.184.216.35"]})
    assert resolve_allowed("example.com", 443, allow_private=False, resolver=resolver) == [
        V6("2606:2800:220:1::"),
        V4("93.184.216.34"),
        V4("93.184.216.35"),
    ]
    assert resolver.calls == [("example.com", 443, {"type": socket.SOCK_STREAM})]


def test_resolve_deduplicates_repeated_answers() -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34", "93.184.216.34", "1.1.1.1"]})
    assert resolve_allowed("example.com", 80, allow_private=False, resolver=resolver) == [
        V4("93.184.216.34"),
        V4("1.1.1.1"),
    ]


def test_resolve_ignores_non_ip_families() -> None:
    def resolver(host: str, port: int, **kwargs: Any) -> list[tuple[Any, ...]]:
        return [
            (socket.AF_UNIX, socket.SOCK_STREAM, 0, "", "/tmp/sock"),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
        ]

    assert resolve_allowed("example.com", 80, allow_private=False, resolver=resolver) == [V4("8.8.8.8")]


@pytest.mark.parametrize(
    ("url", "address"), [(url, address) for url, address in BLOCKED_URLS if address in CREDENTIAL_ENDPOINTS]
)
def test_metadata_and_credential_endpoints_stay_blocked_where_private_networks_are_allowed(
    url: str, address: str
) -> None:
    """Local development allows loopback and private pages, never the metadata service: a laptop or build
    host on EC2 would hand its credentials to whoever submits the URL."""
    with blocked("blocked_address") as info:
        check_url(url, allow_private=True)
    assert "never allowed" in info.value.reason


@pytest.mark.parametrize(
    "answer",
    [["169.254.169.254"], ["169.254.170.2"], ["169.254.170.23"], ["fd00:ec2::254"], ["::ffff:169.254.169.254"]],
)
def test_a_name_resolving_to_a_credential_endpoint_is_blocked_even_where_private_networks_are_allowed(
    answer: list[str],
) -> None:
    resolver = FakeResolver({"receiver": answer})
    with blocked("blocked_address"):
        resolve_allowed("receiver", 80, allow_private=True, resolver=resolver)


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["10.0.0.5"],
        ["169.254.169.254"],
        ["fd00:ec2::254"],
        ["::1"],
        ["::ffff:127.0.0.1"],
        ["64:ff9b::a9fe:a9fe"],
        ["100.64.0.1"],
        ["0.0.0.0"],
        ["fe80::1%eth0"],
    ],
)
def test_public_looking_name_resolving_to_private_is_blocked(answer: list[str]) -> None:
    """DNS rebinding: the name looks harmless, its answer does not."""
    resolver = FakeResolver({"totally-public.example": answer})
    with blocked("blocked_address") as info:
        resolve_allowed("totally-public.example", 443, allow_private=False, resolver=resolver)
    assert "totally-public.example" in info.value.reason
    assert answer[0].split("%")[0] in info.value.reason or str(ipaddress.ip_address(answer[0])) in info.value.reason


@pytest.mark.parametrize(
    "answer",
    [
        ["93.184.216.34", "127.0.0.1"],
        ["127.0.0.1", "93.184.216.34"],
        ["8.8.8.8", "fd00::1"],
        ["2606:4700:4700::1111", "1.1.1.1", "192.168.0.10"],
    ],
)
def test_name_resolving_to_mixed_public_and_private_is_blocked(answer: list[str]) -> None:
    resolver = FakeResolver({"mixed.example": answer})
    with blocked("blocked_address") as info:
        resolve_allowed("mixed.example", 80, allow_private=False, resolver=resolver)
    private = next(a for a in answer if not is_public_address(a))
    assert str(ipaddress.ip_address(private)) in info.value.reason


def test_allow_private_returns_private_answers() -> None:
    resolver = FakeResolver({"receiver": ["172.18.0.3", "127.0.0.1"]})
    assert resolve_allowed("receiver", 9000, allow_private=True, resolver=resolver) == [
        V4("172.18.0.3"),
        V4("127.0.0.1"),
    ]


def test_unresolvable_name_is_dns_error() -> None:
    with blocked("dns") as info:
        resolve_allowed("does-not-exist.example", 443, allow_private=False, resolver=FakeResolver())
    assert "does-not-exist.example" in info.value.reason


def test_empty_answer_is_dns_error() -> None:
    with blocked("dns"):
        resolve_allowed("empty.example", 443, allow_private=False, resolver=FakeResolver({"empty.example": []}))


@pytest.mark.parametrize("error", [UnicodeError("label too long"), OSError("timeout"), ValueError("bad")])
def test_resolver_failures_are_dns_errors(error: Exception) -> None:
    def resolver(*args: Any, **kwargs: Any) -> Any:
        raise error

    with blocked("dns"):
        resolve_allowed("example.com", 443, allow_private=True, resolver=resolver)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("8.8.8.8", V4("8.8.8.8")),
        ("134744072", V4("8.8.8.8")),
        ("[2606:4700:4700::1111]", V6("2606:4700:4700::1111")),
        ("::ffff:8.8.8.8", V6("::ffff:808:808")),
    ],
)
def test_resolve_ip_literal_skips_dns(host: str, expected: Any) -> None:
    assert resolve_allowed(host, 443, allow_private=False, resolver=never_called) == [expected]


@pytest.mark.parametrize("host", ["0x7f.1", "2130706433", "[::1]", "::ffff:10.0.0.1"])
def test_resolve_blocked_ip_literal_skips_dns(host: str) -> None:
    with blocked("blocked_address"):
        resolve_allowed(host, 443, allow_private=False, resolver=never_called)


def test_resolve_rejects_malformed_host_before_dns() -> None:
    with blocked("host"):
        resolve_allowed("1.2.3.4.5", 80, allow_private=True, resolver=never_called)


def test_resolve_passes_the_browser_form_of_the_name() -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})
    fullwidth_example = "\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com"  # "EXAMPLE.com" in full-width letters
    assert resolve_allowed(fullwidth_example, 80, allow_private=False, resolver=resolver) == [V4("93.184.216.34")]
    assert resolver.calls[0][0] == "example.com"


@pytest.mark.parametrize(
    ("url", "port"),
    [
        ("http://example.com/", 80),
        ("https://example.com/", 443),
        ("HTTPS://example.com/", 443),
        ("http://example.com:8080/", 8080),
        ("https://example.com:8443/x", 8443),
    ],
)
def test_check_destination_uses_effective_port(url: str, port: int) -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})
    assert check_destination(url, allow_private=False, resolver=resolver) == [V4("93.184.216.34")]
    assert [(host, p) for host, p, _ in resolver.calls] == [("example.com", port)]


def test_check_destination_blocks_rebinding_name() -> None:
    resolver = FakeResolver({"rebind.example": ["169.254.169.254"]})
    with blocked("blocked_address") as info:
        check_destination("https://rebind.example/latest/meta-data/", allow_private=False, resolver=resolver)
    assert "169.254.169.254" in info.value.reason


def test_check_destination_blocks_mixed_answers() -> None:
    resolver = FakeResolver({"mixed.example": ["93.184.216.34", "10.1.2.3"]})
    with blocked("blocked_address"):
        check_destination("https://mixed.example/", allow_private=False, resolver=resolver)


def test_check_destination_allow_private_resolves_private_name() -> None:
    resolver = FakeResolver({"receiver": ["172.18.0.3"]})
    assert check_destination("http://receiver:9000/hook", allow_private=True, resolver=resolver) == [V4("172.18.0.3")]
    assert resolver.calls[0][:2] == ("receiver", 9000)


def test_check_destination_unresolvable_is_dns_error() -> None:
    with blocked("dns"):
        check_destination("https://nx.example/", allow_private=False, resolver=FakeResolver())


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("file:///etc/passwd", "scheme"),
        ("gopher://example.com/", "scheme"),
        ("https://user:pass@example.com/", "userinfo"),
        ("https://localhost/", "host"),
        ("https://metadata.google.internal/", "host"),
        ("https://1.2.3.4.5/", "host"),
    ],
)
def test_check_destination_fails_static_checks_before_dns(url: str, code: str) -> None:
    with blocked(code):
        check_destination(url, allow_private=False, resolver=never_called)


def test_check_destination_percent_encoded_name_is_decoded_before_dns() -> None:
    resolver = FakeResolver({"example.com": ["93.184.216.34"]})
    check_destination("https://%65xample.com/", allow_private=False, resolver=resolver)
    assert resolver.calls[0][0] == "example.com"


# --------------------------------------------------------------------------------------------
# The real resolver, for localhost only
# --------------------------------------------------------------------------------------------


def test_real_resolver_blocks_localhost() -> None:
    with blocked("blocked_address") as info:
        resolve_allowed("localhost", 80, allow_private=False)
    assert "localhost" in info.value.reason


def test_real_resolver_allow_private_returns_loopback() -> None:
    addresses = resolve_allowed("localhost", 80, allow_private=True)
    assert addresses
    assert all(address.is_loopback for address in addresses)


def test_real_resolver_is_not_used_for_literals() -> None:
    assert check_destination("http://8.8.8.8/", allow_private=False) == [V4("8.8.8.8")]
