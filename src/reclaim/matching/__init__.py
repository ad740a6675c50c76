"""Robust matching: the query-side views of a picture (its rotations and mirrors, the
picture inside bars, app chrome or padding) and how their evidence becomes a match."""

from reclaim.matching.views import query_signal

__all__ = ["query_signal"]
