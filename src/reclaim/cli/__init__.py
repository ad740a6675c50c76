"""The ``reclaim`` command. It parses arguments and prints; the work lives in the packages."""

from reclaim.cli import (  # noqa: F401 - importing registers the commands
    backup,
    banks,
    contacts,
    demo,
    evidence,
    hashing,
    monitor,
    platforms,
    sweep,
    takedown,
    takedown_followup,
    users,
)
from reclaim.cli.app import app


def main() -> None:
    """Console entry point."""
    app()


__all__ = ["app", "main"]
