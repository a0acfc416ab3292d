"""Decides whether shotwire may connect to a destination (guards against SSRF).

Strangers give shotwire URLs: pages to capture and webhook endpoints to call. Without a guard,
they could point us at our own infrastructure: loopback services, the VPC, or the cloud metadata
service that hands out credentials. This module is the one place that decides "is this
destination allowed". The API checks URLs at submission. The capture worker checks the submitted
URL, every redirect and every browser subresource request. The webhook sender checks each attempt
and then connects to one of the vetted addresses.

There are two layers, and both are needed:

* `check_url` is static and uses no DNS. It rejects bad schemes, userinfo, IP literals in blocked
  ranges (however they are spelled) and internal-looking names. This gives the submitter an early,
  readable error.
* `resolve_allowed` / `check_destination` resolve the name and reject it if *any* address is not
  public. The caller must connect to a returned address and never resolve the name again.
  Otherwise DNS rebinding (public at check time, 127.0.0.1 at connect time) gets past the check.

Standard library only, so every function and the local stack can import it cheaply.
"""

from __future__ import annotations

import ipaddress
import socket
import stringprep
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any, Literal

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
BlockCode = Literal["scheme", "userinfo", "host", "blocked_address", "dns"]
Resolver = Callable[..., Iterable[tuple[Any, ...]]]

DEFAULT_PORTS: dict[str, int] = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class BlockedDestinationError(ValueError):
    """Raised when a URL or address is not allowed.

    `.reason` is a short, human-readable reason that is safe to show to the submitter.
    `.code` is a stable machine string: "scheme", "userinfo", "host", "blocked_address" or "dns".
    It subclasses ValueError because a blocked destination is invalid input, and callers that
    already map ValueError to a 4xx response keep working.
    """

    def __init__(self, reason: str, code: BlockCode) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code: BlockCode = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Keep `.code` when the error is pickled (for example, returned from a worker process).
        return (type(self), (self.reason, self.code))


# --------------------------------------------------------------------------------------------
# Host canonicalisation and IP-literal parsing
# --------------------------------------------------------------------------------------------

# Characters that can never appear in a domain (WHATWG "forbidden domain code point"), plus
# controls and whitespace. Python's urlsplit and browsers split URLs differently: for
# "http://127.0.0.1\.evil.com/", Python sees host "127.0.0.1\.evil.com", but browsers turn "\"
# into "/" and go to 127.0.0.1. Rejecting these characters closes such parser-differential tricks.
_FORBIDDEN_HOST_CHARS = frozenset('\x00\t\n\r #%/:<>?@[\\]^|"`{}\x7f') | frozenset(map(chr, range(0x20)))

# Browsers apply UTS #46 mapping to hosts before looking for an IPv4 address. Some characters
# are then deleted: "127.0.0\u00ad.1" is 127.0.0.1 in Chrome. RFC 3454 table B.1 covers most of
# these (stringprep.in_table_b1); the rest are the UTS #46 "ignored" characters outside B.1.
_EXTRA_IGNORED = frozenset(
    [0x180F, 0x2064, *range(0x1BCA0, 0x1BCA4), *range(0xE0100, 0xE01F0)],
)
# Full stops that UTS #46 maps to "." ("127。0。0。1" is 127.0.0.1 in a browser). NFKC already
# maps U+FF0E and U+FE52; it maps U+FF61 to U+3002, which is handled here.
_DOT_VARIANTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def _map_host(host: str) -> str:
    """Map the host the way a browser does before parsing it (nameprep-style, close to UTS #46)."""
    if host.isascii():
        return host.lower()
    mapped = "".join(
        stringprep.map_table_b2(ch) for ch in host if not stringprep.in_table_b1(ch) and ord(ch) not in _EXTRA_IGNORED
    )
    return unicodedata.normalize("NFKC", mapped).translate(_DOT_VARIANTS).lower()


def _canonical_host(host: str) -> str:
    """Return the host as a browser would use it: percent-decoded, mapped, validated.

    This is not used for IPv6 literals (the caller handles those). Raises
    BlockedDestinationError(code="host") for something that cannot be a host at all.
    """
    try:
        # WHATWG percent-decodes the host, so "http://%31%32%37.0.0.1/" goes to 127.0.0.1.
        decoded = urllib.parse.unquote(host, errors="strict")
    except UnicodeDecodeError:
        raise BlockedDestinationError(f"host {host!r} is not valid UTF-8 once percent-decoded", "host") from None
    mapped = _map_host(decoded)
    if not mapped:
        raise BlockedDestinationError("URL has no host", "host")
    bad = sorted({ch for ch in mapped if ch in _FORBIDDEN_HOST_CHARS or ch == "\ufffd"})
    if bad:
        raise BlockedDestinationError(f"host {host!r} contains forbidden characters {''.join(bad)!r}", "host")
    # A single trailing dot is allowed (a fully qualified name). Other empty labels ("a..b", ".")
    # are not valid names, and resolvers and browsers disagree about them.
    body = mapped[:-1] if mapped.endswith(".") else mapped
    if not body or "" in body.split("."):
        raise BlockedDestinationError(f"host {host!r} has an empty label", "host")
    if len(body) > 253:
        raise BlockedDestinationError("host name is longer than 253 characters", "host")
    return mapped


def _parse_ipv4_number(part: str) -> int | None:
    """Parse one IPv4 part the way WHATWG and inet_aton do: 0x.. is hex, a leading 0 is octal.

    Returns None if it is not a number.
    """
    if not part:
        return None
    radix = 10
    if len(part) >= 2 and part[:2] in ("0x", "0X"):
        part, radix = part[2:], 16
    elif len(part) >= 2 and part[0] == "0":
        part, radix = part[1:], 8
    if not part:
        return 0  # "0x" on its own is zero, as in browsers.
    digits = "0123456789abcdef"[:radix]
    if any(ch not in digits for ch in part.lower()):
        return None
    return int(part, radix)


def _ends_in_number(host: str) -> bool:
    """WHATWG "ends in a number": if the last label looks numeric, the host must be IPv4."""
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and last.isascii() and last.isdigit():
        return True
    return _parse_ipv4_number(last) is not None


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """Parse an IPv4 host in every form browsers and inet_aton accept, or raise code "host".

    inet_aton (so libc, curl and getaddrinfo) and every browser accept much more than dotted
    decimal: "http://2130706433/", "http://0177.1/" and "http://0x7f.0.0.1/" all go to 127.0.0.1.
    A check that only knows "a.b.c.d" treats these as hostnames and lets them through, so all
    forms are decoded here: 1 to 4 parts, each decimal, octal or hex, and the last part fills the
    remaining bytes ("10.1" is 10.0.0.1).
    """
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        raise BlockedDestinationError(f"host {host!r} looks like an IPv4 address but has too many parts", "host")
    numbers: list[int] = []
    for part in parts:
        number = _parse_ipv4_number(part)
        if number is None:
            raise BlockedDestinationError(
                f"host {host!r} looks like an IPv4 address but {part!r} is not a number", "host"
            )
        numbers.append(number)
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise BlockedDestinationError(f"host {host!r} looks like an IPv4 address but is out of range", "host")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _parse_ipv6(text: str, original: str) -> ipaddress.IPv6Address:
    # Zone ids ("%eth0", "%25eth0" in URLs) say which interface to use, not where to go. Strip them
    # so equality and range checks are about the address itself.
    address = text.split("%", 1)[0]
    try:
        return ipaddress.IPv6Address(address)
    except ValueError:
        raise BlockedDestinationError(f"host {original!r} is not a valid IPv6 address", "host") from None


def parse_ip_literal(host: str) -> IPAddress | None:
    """Return the IP address `host` denotes, or None if it is a hostname.

    Accepts every spelling that browsers and libc accept: decimal, octal, hex, short and mixed
    IPv4 forms, a trailing dot, percent-encoding and full-width digits, and IPv6 with or without
    brackets and zone id. IPv6 forms that embed an IPv4 (mapped, compatible, NAT64, 6to4) come back
    as the IPv6Address; `is_public_address` looks inside them. A host whose last label is numeric
    must be a valid IPv4 address (WHATWG rules), so "1.2.3.4.5" or "0x100000000" raise
    BlockedDestinationError(code="host") and are not treated as names.
    """
    if not host:
        raise BlockedDestinationError("URL has no host", "host")
    if host.startswith("["):
        if not host.endswith("]"):
            raise BlockedDestinationError(f"host {host!r} has an unterminated '['", "host")
        return _parse_ipv6(host[1:-1], host)
    if ":" in host:  # No hostname contains a colon, so this must be IPv6 (urlsplit strips the brackets).
        return _parse_ipv6(host, host)
    canonical = _canonical_host(host)
    if not _ends_in_number(canonical):
        return None
    return _parse_ipv4(canonical)


# --------------------------------------------------------------------------------------------
# Address classification
# --------------------------------------------------------------------------------------------

# Checked explicitly, in order (more specific first), on top of ipaddress.is_global. is_global
# has gaps that vary across Python versions (64:ff9b:1::/48, 3fff::/20 and 192.0.0.0/24 were
# added late or not at all), and an explicit table also gives a readable reason.
_V4_BLOCKED: tuple[tuple[ipaddress.IPv4Network, str], ...] = tuple(
    (ipaddress.IPv4Network(net), label)
    for net, label in (
        ("0.0.0.0/8", "unspecified"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT (shared address space)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "the cloud metadata service"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "reserved for IETF protocol assignments"),
        ("192.0.2.0/24", "reserved for documentation"),
        ("192.88.99.0/24", "deprecated 6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "reserved for benchmarking"),
        ("198.51.100.0/24", "reserved for documentation"),
        ("203.0.113.0/24", "reserved for documentation"),
        ("224.0.0.0/4", "multicast"),
        ("255.255.255.255/32", "broadcast"),
        ("240.0.0.0/4", "reserved"),
    )
)
_V6_BLOCKED: tuple[tuple[ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.IPv6Network(net), label)
    for net, label in (
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/96", "IPv4-compatible (deprecated)"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/32", "Teredo"),
        ("2001:2::/48", "reserved for benchmarking"),
        ("2001:db8::/32", "reserved for documentation"),
        ("2001::/23", "reserved for IETF protocol assignments"),
        ("3fff::/20", "reserved for documentation"),
        ("5f00::/16", "reserved for SRv6 SIDs"),
        ("fd00:ec2::254/128", "the AWS metadata service"),
        ("fc00::/7", "private (unique local)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    )
)
_NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> list[tuple[str, ipaddress.IPv4Address]]:
    """Return the IPv4 addresses an IPv6 address carries, each with a label for its form.

    Packets to these forms reach the embedded IPv4 host (directly, or through a translator or
    relay), so an embedded 127.0.0.1 or 10.x is as dangerous as the plain address.
    """
    embedded: list[tuple[str, ipaddress.IPv4Address]] = []
    if ip.ipv4_mapped is not None:
        embedded.append(("IPv4-mapped", ip.ipv4_mapped))
    if ip in _NAT64_WELL_KNOWN:
        embedded.append(("NAT64", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:
        embedded.append(("IPv4-compatible", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)))
    if ip.sixtofour is not None:
        embedded.append(("6to4", ip.sixtofour))
    if ip.teredo is not None:
        server, client = ip.teredo
        embedded.extend([("Teredo server", server), ("Teredo client", client)])
    return embedded


def _coerce(ip: IPAddress | str) -> IPAddress:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    parsed = parse_ip_literal(str(ip))
    if parsed is None:
        raise BlockedDestinationError(f"{ip!r} is not an IP address", "host")
    return parsed


def _blocked_reason(ip: IPAddress) -> str | None:
    """Say why `ip` is not a public destination (e.g. "is private (10.0.0.0/8)"), or None if it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        for form, inner in _embedded_ipv4(ip):
            inner_reason = _blocked_reason(inner)
            if inner_reason is not None:
                return f"embeds {form} address {inner}, which {inner_reason}"
        # IPv4-mapped and NAT64 (64:ff9b::/96) addresses go to their embedded IPv4 and to nothing
        # else, so that address alone decides. This matters: an IPv6-only VPC with DNS64 returns
        # 64:ff9b::a.b.c.d for ordinary public sites. (::/8, which holds both, counts as
        # "reserved" in ipaddress, so the generic checks below would wrongly block them.)
        if ip.ipv4_mapped is not None or ip in _NAT64_WELL_KNOWN:
            return None
        table: Iterable[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = _V6_BLOCKED
    else:
        table = _V4_BLOCKED
    for network, label in table:
        if ip in network:
            return f"is {label} ({network})"
    for attribute, label in (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attribute):
            return f"is {label}"
    if not ip.is_global:
        return "is not globally routable"
    return None


def is_public_address(ip: IPAddress | str) -> bool:
    """True only for a globally routable unicast address that shotwire may connect to.

    Accepts an address object or any literal that `parse_ip_literal` accepts. IPv6 forms that
    embed an IPv4 (mapped, compatible, NAT64, 6to4, Teredo) are judged by the embedded address
    as well, so "::ffff:127.0.0.1" is not public but "::ffff:8.8.8.8" is.
    """
    return _blocked_reason(_coerce(ip)) is None


# --------------------------------------------------------------------------------------------
# URL and destination checks
# --------------------------------------------------------------------------------------------

# Names that only mean something inside a network (RFC 6761/6762, RFC 8375, ICANN's .internal)
# or that cloud resolvers answer with internal addresses. DNS would usually catch them too. But
# check_url runs without DNS, at submission, and blocking them by name is clearer for the submitter.
_BLOCKED_NAMES = frozenset(
    {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "metadata", "instance-data"}
)
_BLOCKED_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa")


def _blocked_name_reason(host: str) -> str | None:
    name = host.rstrip(".")
    if name in _BLOCKED_NAMES or name.endswith(_BLOCKED_SUFFIXES):
        return f"host {name!r} is an internal name"
    if "." not in name:
        # Single-label names ("redis", "metadata") are resolved through local search domains,
        # so they point into our own network, never at a public site.
        return f"host {name!r} is a single-label name, which only resolves inside a local network"
    return None


# Blocked even where private networks are allowed (local development): no page or receiver a developer
# runs lives there, and a laptop or build host on EC2, ECS or EKS would hand out its credentials.
_ALWAYS_BLOCKED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), label)
    for net, label in (
        ("169.254.169.254/32", "the cloud metadata service"),
        ("169.254.170.2/32", "the ECS task metadata and credentials service"),
        ("169.254.170.23/32", "the EKS Pod Identity agent"),
        ("fd00:ec2::254/128", "the AWS metadata service"),
        ("fd00:ec2::23/128", "the EKS Pod Identity agent"),
    )
)


def _metadata_reason(ip: IPAddress) -> str | None:
    """Why `ip` is a credentials endpoint (directly or embedded in an IPv6 form), or None."""
    candidates: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        candidates += [inner for _, inner in _embedded_ipv4(ip)]
    for candidate in candidates:
        for network, label in _ALWAYS_BLOCKED:
            if candidate.version == network.version and candidate in network:
                return f"is {label} ({network}), never allowed"
    return None


def _check_address(ip: IPAddress, *, allow_private: bool, host: str | None = None) -> None:
    reason = _metadata_reason(ip) if allow_private else _blocked_reason(ip)
    if reason is None:
        return
    if host is None:
        raise BlockedDestinationError(f"address {ip} {reason}", "blocked_address")
    raise BlockedDestinationError(f"host {host!r} resolves to {ip}, which {reason}", "blocked_address")


def _url_host(parts: urllib.parse.SplitResult) -> str:
    """Return the URL's host with IPv6 brackets removed. Not yet decoded or mapped."""
    netloc = parts.netloc
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.partition(":")[0]


def check_url(
    url: str, *, allow_private: bool, allowed_schemes: Iterable[str] = ("http", "https")
) -> urllib.parse.SplitResult:
    """Check a URL statically (no DNS) and return it parsed.

    Rejects a scheme outside `allowed_schemes`, a missing or malformed host, and userinfo
    ("user:pass@"; it hides the real host from people and is parsed differently by different
    parsers). Unless `allow_private` is set, it also rejects IP literals outside public space and
    internal names such as localhost, *.internal and single-label names. `allow_private` exists
    for the local stack. It never relaxes the scheme, userinfo or malformed-host checks.
    """
    if not isinstance(url, str):
        raise BlockedDestinationError("URL must be a string", "scheme")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. "[127.0.0.1]" or an unbalanced bracket
        raise BlockedDestinationError(f"URL cannot be parsed: {exc}", "host") from None

    schemes = {s.lower() for s in allowed_schemes}
    if not parts.scheme:
        raise BlockedDestinationError(f"URL has no scheme; use one of {', '.join(sorted(schemes))}", "scheme")
    if parts.scheme.lower() not in schemes:
        raise BlockedDestinationError(
            f"scheme {parts.scheme!r} is not allowed; use one of {', '.join(sorted(schemes))}", "scheme"
        )
    if "@" in parts.netloc:
        raise BlockedDestinationError("URL must not contain credentials (user:pass@)", "userinfo")
    if not parts.netloc:
        raise BlockedDestinationError("URL has no host", "host")
    try:
        port = parts.port
    except ValueError:
        raise BlockedDestinationError(f"URL has an invalid port in {parts.netloc!r}", "host") from None
    if port == 0:
        raise BlockedDestinationError("URL has an invalid port 0", "host")

    raw_host = _url_host(parts)
    ip = parse_ip_literal(raw_host)  # Also rejects malformed hosts, even with allow_private.
    if ip is not None:
        _check_address(ip, allow_private=allow_private)
    elif not allow_private:
        reason = _blocked_name_reason(_canonical_host(raw_host))
        if reason is not None:
            raise BlockedDestinationError(reason, "host")
    return parts


def resolve_allowed(host: str, port: int, *, allow_private: bool, resolver: Resolver | None = None) -> list[IPAddress]:
    """Resolve `host` and return its addresses in resolver order, if every one is allowed.

    The caller must connect to one of these addresses and never resolve the name again, so a
    DNS answer that changes between check and connect (rebinding) cannot get past the check.
    Every address must be public, not just the first one: the client may fall back to another,
    and a name that mixes public and private answers is a rebinding setup. `resolver` defaults
    to socket.getaddrinfo and has the same call shape (tests pass a fake).
    """
    ip = parse_ip_literal(host)
    if ip is not None:
        _check_address(ip, allow_private=allow_private)
        return [ip]

    name = _canonical_host(host)
    lookup = resolver if resolver is not None else socket.getaddrinfo  # Look up at call time so tests can patch it.
    try:
        infos = list(lookup(name, port, type=socket.SOCK_STREAM))
    except (OSError, UnicodeError, ValueError) as exc:  # gaierror is an OSError; IDNA failures are UnicodeError.
        raise BlockedDestinationError(f"host {name!r} does not resolve ({exc})", "dns") from None

    addresses: list[IPAddress] = []
    for info in infos:
        if info[0] not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(info[4][0]))
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise BlockedDestinationError(f"host {name!r} does not resolve to any IP address", "dns")
    for address in addresses:
        _check_address(address, allow_private=allow_private, host=name)
    return addresses


def _allowed_target(parts: urllib.parse.SplitResult, allowed_hosts: Iterable[str]) -> bool:
    """True when the URL's host:port is one of the named exceptions (SHOTWIRE_ALLOWED_HOSTS)."""
    if not allowed_hosts:
        return False
    port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower())
    host = (parts.hostname or "").lower().rstrip(".")
    return f"{host}:{port}" in set(allowed_hosts)


def check_destination(
    url: str,
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    allowed_schemes: Iterable[str] = ("http", "https"),
    allowed_hosts: Iterable[str] = (),
) -> list[IPAddress]:
    """Run check_url and then resolve_allowed on the URL's host and port (default 80 or 443).

    Returns the vetted addresses to connect to. A host:port listed in `allowed_hosts` may resolve to a
    private address; scheme, userinfo and host syntax are still checked.
    """
    parts = check_url(url, allow_private=True, allowed_schemes=allowed_schemes)
    if not allow_private and not _allowed_target(parts, allowed_hosts):
        parts = check_url(url, allow_private=False, allowed_schemes=allowed_schemes)
    else:
        allow_private = True
    scheme = parts.scheme.lower()
    port = parts.port or DEFAULT_PORTS.get(scheme)
    if port is None:
        raise BlockedDestinationError(f"no default port is known for scheme {scheme!r}", "scheme")
    return resolve_allowed(_url_host(parts), port, allow_private=allow_private, resolver=resolver)


def check_submitted_url(url: str, *, allow_private: bool, allowed_hosts: Iterable[str] = ()) -> None:
    """The static check at submission (no DNS): what check_destination would refuse on sight."""
    parts = check_url(url, allow_private=True)
    if not allow_private and not _allowed_target(parts, allowed_hosts):
        check_url(url, allow_private=False)
