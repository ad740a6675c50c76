"""The guarding proxy: the only way out for the browser that renders pages.

Chromium resolves names, follows redirects, loads subresources, opens WebSockets and
prefetches on its own; intercepting its requests from the automation side misses some of
them. So the browser is started with this proxy as its only route (``--proxy-server``,
loopback not bypassed), and the proxy makes every outgoing connection itself, through the
same checks as the fetcher (:meth:`~reclaim.monitor.guard.GuardedBackend.resolve`): the
name resolved once, every address checked, the connection made to a checked address.

It understands ``CONNECT host:port`` (HTTPS and secure WebSockets: it relays the bytes
of the tunnel, the TLS inside is between the browser and the site) and absolute-form
plain-HTTP requests (``GET http://host/path``: forwarded with ``Connection: close``, one
request per connection). Anything else is refused. Every connection is bounded in bytes,
idle time and total time. Refusals are answered ``403`` with the reason and remembered
(:attr:`GuardingProxy.refused`), so tests can see what a hostile page tried.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import socketserver
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore

from reclaim.monitor.errors import FetchRefused
from reclaim.monitor.guard import GuardedBackend

log = logging.getLogger(__name__)

MAX_HEAD = 64 * 1024
_HOP_HEADERS = {b"connection", b"proxy-connection", b"keep-alive", b"proxy-authorization"}


@dataclass(frozen=True, slots=True)
class ProxyLimits:
    connect_timeout: float = 10.0
    idle_timeout: float = 30.0
    total_timeout: float = 120.0
    max_bytes: int = 512 * 1024 * 1024
    """Bytes relayed over one connection, both ways together."""


class GuardingProxy:
    """An HTTP proxy on ``127.0.0.1`` that connects only to checked addresses."""

    def __init__(self, backend: GuardedBackend, limits: ProxyLimits | None = None) -> None:
        self._backend = backend
        self.limits = limits or ProxyLimits()
        self.refused: list[tuple[str, str]] = []
        """(host, reason) of every refusal, in order."""
        self._refused_at: list[float] = []
        self.connections: list[tuple[float, str, int, str]] = []
        """(time.time(), host, port, address) of every connection made, in order: the
        addresses the browser's requests really went to (the browser itself only ever
        sees the proxy's)."""
        self._lock = threading.Lock()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="reclaim-proxy", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- one client connection -------------------------------------------------------------

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(self.limits.idle_timeout)
        try:
            head, rest = _read_head(client)
        except (OSError, ValueError):
            return
        request_line, _, header_block = head.partition(b"\r\n")
        parts = request_line.split(b" ")
        if len(parts) != 3:
            _answer(client, 400, "malformed request line")
            return
        method, target, version = parts
        try:
            if method == b"CONNECT":
                host, port = _host_port(target.decode("ascii"), default=443)
                upstream = self._connect(host, port)
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                initial = rest
            else:
                url = urlsplit(target.decode("ascii"))
                if url.scheme != "http" or not url.hostname:
                    raise FetchRefused(f"only http:// requests and CONNECT, not {url.scheme}:")
                if url.username or url.password:
                    raise FetchRefused("credentials in URLs are refused")
                host, port = url.hostname, url.port or 80
                upstream = self._connect(host, port)
                path = (url.path or "/") + (f"?{url.query}" if url.query else "")
                lines = [b" ".join((method, path.encode("ascii"), version))]
                for line in header_block.split(b"\r\n"):
                    name = line.split(b":", 1)[0].strip().lower()
                    if line and name not in _HOP_HEADERS:
                        lines.append(line)
                lines.append(b"Connection: close")
                initial = b"\r\n".join(lines) + b"\r\n\r\n" + rest
        except FetchRefused as error:
            self._refuse(client, target.decode("ascii", "replace"), str(error))
            return
        except (UnicodeDecodeError, ValueError) as error:
            _answer(client, 400, f"malformed request: {error}")
            return
        except (OSError, httpcore.ConnectError, httpcore.ConnectTimeout) as error:
            _answer(client, 502, f"cannot connect: {error}")
            return
        with upstream:
            if initial:
                upstream.sendall(initial)
            self._relay(client, upstream)

    def _connect(self, host: str, port: int) -> socket.socket:
        if not 0 < port < 65536:
            raise FetchRefused(f"port {port} is not a port")
        last: Exception | None = None
        for address in self._backend.resolve(host, port, self.limits.connect_timeout):
            try:
                connection = socket.create_connection(
                    (str(address), port), timeout=self.limits.connect_timeout
                )
            except OSError as error:
                last = error
                continue
            with self._lock:
                self.connections.append((time.time(), host.lower(), port, str(address)))
                del self.connections[:-10_000]  # the recent past is all anyone asks about
            return connection
        raise OSError(f"{host}:{port}: {last}")

    def addresses_since(self, since: float) -> dict[tuple[str, int], str]:
        """(host, port) -> the address last connected to for it, since ``since``."""
        with self._lock:
            return {(h, p): a for t, h, p, a in self.connections if t >= since}

    def refused_since(self, since: float) -> list[tuple[str, str]]:
        """(host[:port], reason) of the refusals since ``since``."""
        with self._lock:
            return [r for r, t in zip(self.refused, self._refused_at, strict=True) if t >= since]

    def _refuse(self, client: socket.socket, target: str, reason: str) -> None:
        host = target.split("/")[2] if "://" in target else target
        with self._lock:
            self.refused.append((host, reason))
            self._refused_at.append(time.time())
        log.info("proxy refused %s: %s", host, reason)
        _answer(client, 403, reason)

    def _relay(self, client: socket.socket, upstream: socket.socket) -> None:
        """Copy bytes both ways until either side closes or a limit is reached."""
        deadline = time.monotonic() + self.limits.total_timeout
        relayed = 0
        sockets = [client, upstream]
        while time.monotonic() < deadline and relayed <= self.limits.max_bytes:
            try:
                ready, _, _ = select.select(sockets, [], [], self.limits.idle_timeout)
            except (OSError, ValueError):
                return
            if not ready:
                return  # idle too long
            for source in ready:
                target = upstream if source is client else client
                try:
                    data = source.recv(65536)
                    if not data:
                        return
                    target.sendall(data)
                except OSError:
                    return
                relayed += len(data)


def _read_head(client: socket.socket) -> tuple[bytes, bytes]:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = client.recv(8192)
        if not chunk:
            raise ValueError("the client closed before a request")
        buffer += chunk
        if len(buffer) > MAX_HEAD:
            raise ValueError("request head too large")
    head, _, rest = buffer.partition(b"\r\n\r\n")
    return head, rest


def _host_port(target: str, default: int) -> tuple[str, int]:
    if target.startswith("["):
        host, _, port = target[1:].partition("]")
        port = port.lstrip(":")
    else:
        host, _, port = target.rpartition(":") if ":" in target else (target, "", "")
    if not host:
        raise ValueError(f"no host in {target!r}")
    return host, int(port) if port else default


def _answer(client: socket.socket, status: int, reason: str) -> None:
    text = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway"}.get(status, "Error")
    body = f"Reclaim's guarding proxy: {reason}\n".encode()
    with contextlib.suppress(OSError):
        client.sendall(
            f"HTTP/1.1 {status} {text}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
