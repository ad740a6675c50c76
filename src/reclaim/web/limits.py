"""Request body limits for every route, enforced while the body streams in.

FastAPI reads a JSON body whole before validating it, so without this a single huge POST
to ``/v1/match`` would take all the memory it likes. A declared ``Content-Length`` over the
limit is refused before any byte is read; an undeclared (chunked) body is read here up to the
limit and then handed to the application. Routes that stream their own bodies (file
uploads) bring their own, larger limit.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: at most ``limit`` body bytes, except for ``exempt`` path prefixes."""

    def __init__(self, app: ASGIApp, *, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.limit = limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _refuse(send, self.limit)
            return
        # Small bodies only: read them here, up to the limit, and replay them to the app.
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await _refuse(send, self.limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(chunks, None, receive), send)


def _replay(chunks: list[bytes], final: Message | None, upstream: Receive) -> Receive:
    """A ``receive`` that hands out the buffered body, then waits for the real disconnect
    (answering "disconnected" at once would make a streaming response stop half-way:
    Starlette's responses watch ``receive`` while they send)."""
    body = b"".join(chunks)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if final is not None:
            return final
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await upstream()

    return receive


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps({"detail": f"the request body is over the limit of {limit:,} bytes"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
