"""Reading an answer from a device that may be broken or hostile: one deadline for the
whole exchange (a device trickling a byte a second cannot hold a probe), and byte and line
limits on headers and bodies (a device sending endless headers cannot fill memory)."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from reclaim.sweep.lan.errors import Malformed, ProbeFailed

HEAD_LIMIT = 16384
MAX_HEADER_LINES = 100


@dataclass(frozen=True, slots=True)
class Head:
    status_line: str
    headers: dict[str, str]
    """Lower-cased names; a repeated header keeps its first value."""

    @property
    def status(self) -> int:
        parts = self.status_line.split(None, 2)
        code = number(parts[1], 3) if len(parts) >= 2 else None
        if code is None:
            raise Malformed(f"a status line without a status code: {self.status_line[:60]!r}")
        return code


class Exchange:
    """One request and its answer on one connection, within ``seconds``."""

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.sock = sock
        self.seconds = seconds
        self.until = time.monotonic() + seconds
        self.received = 0

    def send(self, data: bytes) -> None:
        self.sock.settimeout(max(self.until - time.monotonic(), 0.01))
        try:
            self.sock.sendall(data)
        except OSError as error:
            raise ProbeFailed(f"could not send: {error.strerror or error}") from None

    def recv(self) -> bytes:
        left = self.until - time.monotonic()
        if left <= 0:
            self._too_slow()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(4096)
        except TimeoutError:
            self._too_slow()
        except OSError as error:
            raise ProbeFailed(f"connection failed: {error.strerror or error}") from None
        self.received += len(chunk)
        return chunk

    def _too_slow(self) -> None:
        if self.received:
            raise Malformed(
                f"answer incomplete after {self.seconds:g} s ({self.received} bytes): too slow"
            )
        raise ProbeFailed(f"no answer within {self.seconds:g} s")

    def read_head(self, buffered: bytes = b"", limit: int = HEAD_LIMIT) -> tuple[Head, bytes]:
        """The status line and headers, and whatever of the body came with them."""
        data = buffered
        while True:
            end = _head_end(data)
            if end is not None:
                break
            if len(data) > limit:
                raise Malformed(f"headers longer than {limit} bytes: answer cut off")
            chunk = self.recv()
            if not chunk:
                if data:
                    raise Malformed("connection closed in the middle of the headers")
                raise ProbeFailed("closed without answering")
            data += chunk
        head_bytes, rest = data[: end[0]], data[end[1] :]
        if len(head_bytes) > limit:
            raise Malformed(f"headers longer than {limit} bytes: answer cut off")
        return parse_head(head_bytes), rest

    def read_body(self, buffered: bytes, length: int | None, limit: int) -> tuple[bytes, bool]:
        """Up to ``limit`` bytes of body; ``length`` None reads to the end of the
        connection. Returns the body and whether it was cut at the limit."""
        data = buffered
        wanted = limit if length is None else min(length, limit)
        while len(data) < wanted:
            try:
                chunk = self.recv()
            except Malformed:
                break  # a slow body: keep what came (headers already told us most)
            if not chunk:
                break
            data += chunk
        cut = len(data) > limit or (length is not None and length > limit)
        return data[:wanted], cut


def _head_end(data: bytes) -> tuple[int, int] | None:
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return None


def parse_head(head: bytes) -> Head:
    """Status line and headers of an HTTP-like answer (HTTP, RTSP, SSDP)."""
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    if len(lines) > MAX_HEADER_LINES + 1:
        raise Malformed(f"more than {MAX_HEADER_LINES} header lines: answer cut off")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name.strip() or " " in name.strip():
            raise Malformed(f"not a header line: {line[:60]!r}")
        headers.setdefault(name.strip().lower(), value.strip())
    return Head(lines[0].strip(), headers)


def content_length(head: Head) -> int | None:
    value = head.headers.get("content-length")
    if value is None:
        return None
    length = number(value, 18)
    if length is None:
        raise Malformed(f"a Content-Length that is not a number: {value[:30]!r}")
    return length


def number(text: str, digits: int) -> int | None:
    """``text`` as a number of at most ``digits`` ASCII digits, else None (``str.isdigit``
    also accepts "²" and "١", and ``int`` refuses more than 4,300 digits)."""
    if not (0 < len(text) <= digits and text.isascii() and text.isdigit()):
        return None
    return int(text)
