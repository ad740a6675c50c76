"""Organisations, cases and the typed, append-only case timeline."""
