"""Content-Encoding decoders that never produce more than they are allowed to.

A page of a few kilobytes can inflate to gigabytes (a decompression bomb); httpx's own
decoders inflate a whole network chunk at once. These inflate at most ``limit`` bytes in
total and raise :class:`TooLarge` beyond it, however the input is chunked.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import Protocol

import brotli  # type: ignore[import-untyped]

from reclaim.monitor.errors import DecodeFailed, TooLarge


class _Decoder(Protocol):
    def feed(self, data: bytes, room: int) -> bytes: ...

    def flush(self, room: int) -> bytes: ...


class _Zlib:
    def __init__(self, encoding: str) -> None:
        self._gzip = encoding in ("gzip", "x-gzip")
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if self._gzip else zlib.MAX_WBITS)
        self._head: bytes | None = None if self._gzip else b""
        """Deflate only: the first bytes, held until the two that tell zlib from raw."""

    def feed(self, data: bytes, room: int) -> bytes:
        if self._head is not None:
            self._head += data
            if len(self._head) < 2:
                return b""
            data, self._head = self._head, None
            try:  # "deflate" is zlib-wrapped by the standard, raw by some servers
                zlib.decompressobj().decompress(data[:2])
            except zlib.error:
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
        try:
            out = self._inflate.decompress(data, room + 1)
        except zlib.error as error:
            raise DecodeFailed(f"corrupt compressed body: {error}") from error
        if len(out) > room or self._inflate.unconsumed_tail:
            raise TooLarge("the body inflates beyond its limit")
        return out

    def flush(self, room: int) -> bytes:
        if self._head:  # a body of one byte: no deflate stream
            raise DecodeFailed("corrupt compressed body: too short")
        try:
            out = self._inflate.flush()
        except zlib.error as error:
            raise DecodeFailed(f"corrupt compressed body: {error}") from error
        if len(out) > room:
            raise TooLarge("the body inflates beyond its limit")
        return out


class _Brotli:
    def __init__(self) -> None:
        self._inflate = brotli.Decompressor()

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            out: bytes = self._inflate.process(data, output_buffer_limit=room + 1)
        except brotli.error as error:
            raise DecodeFailed(f"corrupt brotli body: {error}") from error
        if len(out) > room or not self._inflate.can_accept_more_data():
            raise TooLarge("the body inflates beyond its limit")
        return out

    def flush(self, room: int) -> bytes:
        return b""


class _Identity:
    def feed(self, data: bytes, room: int) -> bytes:
        if len(data) > room:
            raise TooLarge("the body is larger than its limit")
        return data

    def flush(self, room: int) -> bytes:
        return b""


MAX_LAYERS = 2


def decoded(chunks: Iterator[bytes], content_encoding: str, limit: int) -> Iterator[bytes]:
    """The decoded body of raw ``chunks``, at most ``limit`` bytes in all (raw bytes count
    too: a raw body over the limit is refused before it is inflated)."""
    names = [n.strip().lower() for n in content_encoding.split(",") if n.strip()]
    names = [n for n in names if n != "identity"]
    if len(names) > MAX_LAYERS:
        raise DecodeFailed(f"more than {MAX_LAYERS} content encodings: {content_encoding}")
    layers: list[_Decoder] = []
    for name in reversed(names):  # the last encoding applied is undone first
        if name in ("gzip", "x-gzip", "deflate"):
            layers.append(_Zlib(name))
        elif name == "br":
            layers.append(_Brotli())
        else:
            raise DecodeFailed(f"unsupported content encoding {name!r}")
    layers.append(_Identity())
    raw = 0
    produced = 0
    for chunk in chunks:
        raw += len(chunk)
        if raw > limit:
            raise TooLarge("the body is larger than its limit")
        data = chunk
        for layer in layers:
            data = layer.feed(data, limit - produced)
        produced += len(data)
        if data:
            yield data
    for index, layer in enumerate(layers):
        # Flush each layer, passing what it releases through the layers after it.
        data = layer.flush(limit - produced)
        for later in layers[index + 1 :]:
            data = later.feed(data, limit - produced)
        produced += len(data)
        if data:
            yield data
