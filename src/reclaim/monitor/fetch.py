"""The monitor's fetcher: one shared, cookie-free HTTP client behind the SSRF guard.

- Every connection goes through :class:`~reclaim.monitor.guard.GuardedBackend` (resolve
  once, check every address, connect to the checked address); redirects are followed here,
  one hop at a time, each URL checked again; environment proxies are ignored.
- Bodies are streamed: the Content-Length is checked before reading, the bytes as they
  arrive, and compressed bodies as they inflate (:mod:`reclaim.monitor.decode`), against a
  limit for the kind of content (page, image, video). Videos go to a file, not memory.
- Timeouts: connect (DNS included), read (between bytes), and a total deadline for the
  whole fetch that a server dripping one byte at a time cannot stretch.
- Transient failures (connection errors, 429, 502-504) are retried with exponential
  backoff, honouring ``Retry-After`` up to a cap, never past the deadline. Refusals by the
  guard and over-limit bodies are never retried.
- HTTP/1.1 and HTTP/2 (negotiated over TLS), gzip, deflate and brotli, an honest
  User-Agent, no cookies kept.

A response with an error status is returned, not raised: a 404 or 410 tells a re-check
that the content is gone.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import http.cookiejar
import io
import ssl
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import httpcore
import httpx

from reclaim.config import Settings
from reclaim.monitor.decode import decoded
from reclaim.monitor.errors import (
    DecodeFailed,
    FetchFailed,
    FetchRefused,
    TimedOut,
    TooLarge,
    TooManyRedirects,
    Unreachable,
    Unwanted,
)
from reclaim.monitor.guard import (
    AddressPolicy,
    GuardedBackend,
    Network,
    Resolver,
    checked_url,
    parse_networks,
    system_resolver,
)

__all__ = [
    "DecodeFailed",
    "FetchFailed",
    "FetchLimits",
    "FetchRefused",
    "Fetched",
    "Fetcher",
    "Hop",
    "Kind",
    "TimedOut",
    "TooLarge",
    "TooManyRedirects",
    "Unreachable",
    "Unwanted",
    "kind_of",
]

_RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MAX_RETRY_AFTER = 30.0
_BACKOFF = 0.5


class Kind(StrEnum):
    PAGE = "page"
    """HTML, XML, feeds, text."""
    IMAGE = "image"
    VIDEO = "video"
    OTHER = "other"


def kind_of(content_type: str) -> Kind:
    """The kind of content a Content-Type names (parameters ignored)."""
    mime = content_type.split(";")[0].strip().lower()
    if mime.startswith("image/"):
        return Kind.IMAGE
    if mime.startswith("video/") or mime in ("application/x-mpegurl", "application/mp4"):
        return Kind.VIDEO
    if (
        mime.startswith("text/")
        or mime.endswith("+xml")
        or mime in ("application/xml", "application/xhtml+xml", "application/json", "")
    ):
        return Kind.PAGE
    return Kind.OTHER


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Everything that bounds a fetch; :meth:`from_settings` reads ``RECLAIM_FETCH_*``."""

    page_bytes: int = 10 * 1024 * 1024
    image_bytes: int = 50 * 1024 * 1024
    video_bytes: int = 2048 * 1024 * 1024
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 120.0
    max_redirects: int = 5
    retries: int = 2
    user_agent: str = "Reclaim-monitor/0.1 (finds and reports non-consensual intimate imagery)"
    allow: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> FetchLimits:
        return cls(
            page_bytes=settings.fetch_max_page_bytes,
            image_bytes=settings.fetch_max_image_bytes,
            video_bytes=settings.fetch_max_video_bytes,
            connect_timeout=settings.fetch_connect_timeout,
            read_timeout=settings.fetch_read_timeout,
            total_timeout=settings.fetch_total_timeout,
            max_redirects=settings.fetch_max_redirects,
            retries=settings.fetch_retries,
            user_agent=settings.fetch_user_agent,
            allow=parse_networks(settings.fetch_allow_networks),
        )

    def bytes_for(self, kind: Kind) -> int:
        if kind is Kind.IMAGE:
            return self.image_bytes
        if kind is Kind.VIDEO:
            return self.video_bytes
        return self.page_bytes


@dataclass(frozen=True, slots=True)
class Hop:
    """One response on the way: a redirect, or the final one."""

    url: str
    status: int
    address: str | None
    """The IP address the response came from."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """A final response: its status, headers and (decoded) body."""

    url: str
    """The URL asked for."""
    final_url: str
    status: int
    headers: dict[str, str]
    """Lower-case names; repeated headers joined with ", "."""
    content_type: str
    kind: Kind
    body: bytes | None
    """The decoded body, or None when it was written to a file (:meth:`Fetcher.download`)."""
    size: int
    """Decoded bytes."""
    address: str | None
    redirects: tuple[Hop, ...]
    http_version: str
    fetched_at: datetime


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds
        self.seconds = seconds

    def left(self) -> float:
        return self._end - time.monotonic()

    def check(self, url: str) -> float:
        left = self.left()
        if left <= 0:
            raise TimedOut(f"{url}: the fetch took longer than {self.seconds:g} s")
        return left


class Fetcher:
    """Fetches URLs for the monitor, safely. Thread-safe; one per process is enough.

    ``resolver`` replaces the system's DNS (tests give names any address they like);
    ``verify`` is httpx's TLS verification (a CA bundle path or an ``ssl.SSLContext``)."""

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        resolver: Resolver = system_resolver,
        verify: ssl.SSLContext | str | bool = True,
    ) -> None:
        self.limits = limits or FetchLimits()
        self._backend = GuardedBackend(AddressPolicy(self.limits.allow), resolver)
        transport = httpx.HTTPTransport(verify=verify, http2=True, trust_env=False, retries=0)
        # httpx builds its pool without a way to name the network backend: rebuild it with
        # the same TLS context around the guarded backend, so every connection is checked.
        ssl_context = transport._pool._ssl_context
        transport._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=32,
            max_keepalive_connections=16,
            keepalive_expiry=5.0,
            http1=True,
            http2=True,
            network_backend=self._backend,
        )
        no_cookies = http.cookiejar.CookieJar(
            policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[])
        )
        self._client = httpx.Client(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            cookies=no_cookies,
            headers={
                "User-Agent": self.limits.user_agent,
                "Accept-Encoding": "gzip, deflate, br",
                "Accept": "*/*",
            },
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()
        self._backend.close()

    def get(
        self,
        url: str,
        accept: Collection[Kind] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """Fetch ``url`` into memory (any kind in ``accept``, default every kind but video),
        sending ``headers`` too (validators for a conditional request, say)."""
        wanted = frozenset(accept) if accept is not None else frozenset(Kind) - {Kind.VIDEO}
        sink = io.BytesIO()
        fetched = self._fetch(url, wanted, sink, headers or {})
        return dataclasses.replace(fetched, body=sink.getvalue())

    def download(
        self,
        url: str,
        path: Path,
        accept: Collection[Kind] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        """Fetch ``url`` into the file ``path`` (created or truncated; removed on failure)."""
        wanted = frozenset(accept) if accept is not None else frozenset(Kind)
        try:
            with path.open("wb") as sink:
                return self._fetch(url, wanted, sink, headers or {})
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    # -- one fetch ---------------------------------------------------------------------

    def _fetch(
        self, url: str, wanted: frozenset[Kind], sink: IO[bytes], headers: Mapping[str, str]
    ) -> Fetched:
        deadline = _Deadline(self.limits.total_timeout)
        current = checked_url(url)
        hops: list[Hop] = []
        for _ in range(self.limits.max_redirects + 1):
            with contextlib.closing(self._send(current, deadline, headers)) as response:
                address = _address(response)
                location = response.headers.get("location")
                if response.is_redirect and location:
                    hops.append(Hop(str(current), response.status_code, address))
                    try:
                        current = checked_url(current.join(location))
                    except FetchRefused as error:
                        message = f"{current} redirects to a refused URL: {error}"
                        raise FetchRefused(message) from None
                    continue
                return self._read(url, current, response, address, hops, wanted, sink, deadline)
        raise TooManyRedirects(f"{url}: more than {self.limits.max_redirects} redirects")

    def _send(
        self, url: httpx.URL, deadline: _Deadline, headers: Mapping[str, str]
    ) -> httpx.Response:
        """The (streamed) response to a GET of ``url``, retrying transient failures."""
        attempt = 0
        while True:
            left = deadline.check(str(url))
            timeout = httpx.Timeout(
                connect=min(self.limits.connect_timeout, left),
                read=min(self.limits.read_timeout, left),
                write=min(self.limits.read_timeout, left),
                pool=min(self.limits.connect_timeout, left),
            )
            request = self._client.build_request("GET", url, headers=headers, timeout=timeout)
            wait: float | None = None
            try:  # a FetchRefused from the guarded backend passes through untouched
                response = self._client.send(request, stream=True)
            except httpx.TimeoutException as error:
                failure: FetchFailed = TimedOut(f"{url}: {_describe(error)}")
            except (httpx.TransportError, httpcore.ConnectError) as error:
                failure = Unreachable(f"{url}: {_describe(error)}")
            else:
                if response.status_code not in _RETRY_STATUSES or attempt >= self.limits.retries:
                    return response
                wait = _retry_after(response.headers.get("retry-after"))
                response.close()
                failure = Unreachable(f"{url}: HTTP {response.status_code}")
            if attempt >= self.limits.retries:
                raise failure
            pause = wait if wait is not None else _BACKOFF * 2**attempt
            if pause >= deadline.left():
                raise failure
            time.sleep(pause)
            attempt += 1

    def _read(
        self,
        asked: str,
        url: httpx.URL,
        response: httpx.Response,
        address: str | None,
        hops: list[Hop],
        wanted: frozenset[Kind],
        sink: IO[bytes],
        deadline: _Deadline,
    ) -> Fetched:
        content_type = response.headers.get("content-type", "")
        kind = kind_of(content_type)
        if response.is_success and kind not in wanted:
            raise Unwanted(f"{url}: {content_type or 'no content type'} ({kind}) was not asked for")
        limit = self.limits.bytes_for(kind)
        declared = response.headers.get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            raise TooLarge(f"{url}: {declared} bytes declared, the limit for {kind} is {limit}")
        size = 0
        try:
            for chunk in decoded(
                _raw(response, deadline, str(url)),
                response.headers.get("content-encoding", ""),
                limit,
            ):
                sink.write(chunk)
                size += len(chunk)
        except TooLarge as error:
            raise TooLarge(f"{url}: {error} ({limit} bytes for {kind})") from None
        except DecodeFailed as error:
            raise DecodeFailed(f"{url}: {error}") from None
        except httpx.TimeoutException as error:
            raise TimedOut(f"{url}: {_describe(error)}") from None
        except httpx.TransportError as error:
            raise Unreachable(f"{url}: {_describe(error)}") from None
        headers: dict[str, str] = {}
        for name, value in response.headers.multi_items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return Fetched(
            url=asked,
            final_url=str(url),
            status=response.status_code,
            headers=headers,
            content_type=content_type,
            kind=kind,
            body=None,
            size=size,
            address=address,
            redirects=tuple(hops),
            http_version=response.http_version,
            fetched_at=datetime.now(UTC),
        )


def _raw(response: httpx.Response, deadline: _Deadline, url: str) -> Iterator[bytes]:
    # Each chunk as the network gives it (a chunk size would buffer, and a server dripping
    # bytes would not be noticed until the buffer filled).
    for chunk in response.iter_raw():
        deadline.check(url)
        yield chunk


def _address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    peer = stream.get_extra_info("server_addr")
    return str(peer[0]) if peer else None


def _retry_after(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (capped), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), _MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min((when - datetime.now(UTC)).total_seconds(), _MAX_RETRY_AFTER))


def _describe(error: Exception) -> str:
    text = str(error) or type(error).__name__
    return text.splitlines()[0]
