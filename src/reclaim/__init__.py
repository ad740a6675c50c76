"""Reclaim: find, document and remove non-consensual intimate imagery; sweep rooms for cameras."""

__version__ = "0.1.0"
