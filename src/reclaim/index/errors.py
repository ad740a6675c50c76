"""Typed errors of the matching index: bad input from a caller, and bad files on disk."""

from __future__ import annotations


class MatchIndexError(Exception):
    """Base class of every error raised by :mod:`reclaim.index`."""


class InvalidCodes(MatchIndexError, ValueError):
    """Codes, ids or a radius given to an index have the wrong shape, type or range."""


class IndexCorrupt(MatchIndexError):
    """A saved index directory is missing, foreign, truncated or fails its checks."""


class NotAnIndex(IndexCorrupt):
    """A directory holds no index of the expected kind (missing, empty or foreign)."""
