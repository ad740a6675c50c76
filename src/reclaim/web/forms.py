"""Reading the pages' forms: plain ``application/x-www-form-urlencoded`` posts, read here
within a size limit (the app's body limit exempts the portal's big forms), one value per
name. The portal and the staff app both use it."""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qs

from fastapi import Request, Response

FORM_COOKIE = "reclaim_form"
"""Before sign-in a form carries a token that must equal this cookie (double submit)."""


class FormRefused(Exception):
    """A form that cannot be accepted (too big, not a form, unreadable)."""


async def read_form(request: Request, limit: int) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != (
        "application/x-www-form-urlencoded"
    ):
        raise FormRefused("not a form")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise FormRefused("too large")
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        raise FormRefused("unreadable") from None
    return {name: values[0] for name, values in fields.items()}


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def form_token(request: Request) -> str:
    """The token for a form shown before sign-in (the cookie's, or a new one)."""
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)


def with_form_cookie(request: Request, response: Response, token: str) -> Response:
    if request.cookies.get(FORM_COOKIE) != token:
        response.set_cookie(
            FORM_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request), path="/"
        )
    return response


def pre_form_ok(request: Request, fields: dict[str, str]) -> bool:
    """Whether a form posted before sign-in carried the cookie's token."""
    cookie, sent = request.cookies.get(FORM_COOKIE, ""), fields.get("token", "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), sent.encode())
