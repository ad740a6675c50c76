"""Why a fetch produced no body: one base class, so callers can catch every refusal."""

from __future__ import annotations


class FetchFailed(Exception):
    """A fetch that did not produce a response body (the reason is the message)."""


class FetchRefused(FetchFailed):
    """The URL or an address it leads to may not be fetched (never retried)."""


class Unreachable(FetchFailed):
    """The host did not resolve, refused the connection, or broke the protocol."""


class TimedOut(FetchFailed):
    """Connecting, reading, or the whole fetch took too long."""


class TooManyRedirects(FetchFailed):
    """More redirects than allowed."""


class Unwanted(FetchFailed):
    """The response is of a kind of content the caller did not ask for."""


class TooLarge(FetchFailed):
    """A body larger than its limit (as declared, as sent, or once decoded)."""


class DecodeFailed(FetchFailed):
    """A body whose Content-Encoding does not decode."""
