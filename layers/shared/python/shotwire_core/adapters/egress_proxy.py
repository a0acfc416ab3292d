"""A forward proxy in front of one capture's browser context: the authoritative SSRF check.

Request interception (`context.route`) does not see redirect hops, so Chromium could follow a redirect
from an allowed page to an internal address. With this proxy as the context's proxy server, Chromium
sends every request through it: each redirect hop, subresources, frames, fetch/XHR, beacons and
WebSockets (plain ones as HTTP upgrades, TLS ones via CONNECT). Each destination is resolved and
vetted here, and the connection goes to the address that was vetted, so Chromium never resolves a
name itself and DNS rebinding between check and connect cannot reach an internal service.

A refused plain-HTTP request gets a 403 carrying `X-Shotwire-Blocked`; a refused CONNECT makes
Chromium fail the load with ERR_TUNNEL_CONNECTION_FAILED. Either way the reason is recorded in `blocked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable
from urllib.parse import urlsplit

BLOCKED_HEADER = "X-Shotwire-Blocked"
MAX_HEAD_BYTES = 64 * 1024
HEAD_TIMEOUT_SECONDS = 30
CONNECT_TIMEOUT_SECONDS = 10
_HOP_BY_HOP = {"proxy-connection", "proxy-authorization", "keep-alive", "connection"}

# Resolves and vets a URL's destination, returning the addresses it may connect to; raises to refuse.
Vetter = Callable[[str], list[ipaddress.IPv4Address | ipaddress.IPv6Address]]


class EgressProxy:
    def __init__(self, vet: Vetter) -> None:
        self._vet = vet
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.blocked: list[str] = []

    async def start(self) -> str:
        """Listen on a free loopback port; returns the proxy URL for Playwright."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, limit=MAX_HEAD_BYTES)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        self._connections.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        try:
            await self._handle(reader, writer)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, TimeoutError, ValueError):
            pass
        finally:
            if task is not None:
                self._connections.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _allowed(self, url: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address] | None:
        try:
            return await asyncio.to_thread(self._vet, url)
        except Exception as error:  # any refusal blocks the request
            self.blocked.append(str(error))
            return None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT_SECONDS)
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, version = request_line.split(" ", 2)
        if method.upper() == "CONNECT":
            await self._tunnel(target, reader, writer)
        else:
            await self._forward(method, target, version, [line for line in header_lines if line], reader, writer)

    async def _tunnel(self, target: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, _, port_text = target.rpartition(":")
        port = int(port_text)
        addresses = await self._allowed(f"https://{host}:{port}/")
        if not addresses:
            writer.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        upstream_reader, upstream_writer = await self._connect(addresses, port)
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()
        await _splice(reader, writer, upstream_reader, upstream_writer)

    async def _forward(
        self,
        method: str,
        target: str,
        version: str,
        headers: list[str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        parts = urlsplit(target)
        if parts.scheme.lower() != "http" or not parts.hostname:
            writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        addresses = await self._allowed(target)
        if not addresses:
            body = b"blocked by shotwire"
            writer.write(
                f"HTTP/1.1 403 Forbidden\r\n{BLOCKED_HEADER}: {self.blocked[-1][:200]!s}\r\n"
                f"Content-Type: text/plain\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode(
                    "latin-1", "replace"
                )
                + body
            )
            await writer.drain()
            return
        upgrade = any(line.lower().startswith("upgrade:") for line in headers)
        kept = [line for line in headers if line.split(":", 1)[0].strip().lower() not in _HOP_BY_HOP]
        # One request per upstream connection: a browser may send its next request on this proxy connection
        # for another host, which must be vetted on its own. WebSocket upgrades keep theirs.
        kept.append("Connection: Upgrade" if upgrade else "Connection: close")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        upstream_reader, upstream_writer = await self._connect(addresses, parts.port or 80)
        request_head = f"{method} {path} {version}\r\n" + "\r\n".join(kept) + "\r\n\r\n"
        upstream_writer.write(request_head.encode("latin-1"))
        await upstream_writer.drain()
        await _splice(reader, writer, upstream_reader, upstream_writer)

    async def _connect(
        self, addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address], port: int
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        last: Exception | None = None
        for address in addresses:
            try:
                return await asyncio.wait_for(asyncio.open_connection(str(address), port), CONNECT_TIMEOUT_SECONDS)
            except (OSError, TimeoutError) as error:
                last = error
        raise ConnectionError(f"could not connect: {last}")


async def _splice(
    client_reader: asyncio.StreamReader,
    client_writer: asyncio.StreamWriter,
    upstream_reader: asyncio.StreamReader,
    upstream_writer: asyncio.StreamWriter,
) -> None:
    async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            with contextlib.suppress(Exception):
                sink.close()

    try:
        await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))
    finally:
        with contextlib.suppress(Exception):
            upstream_writer.close()
