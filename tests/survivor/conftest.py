"""The survivor flows use the takedown tests' world (a case, banked photos, a forum)."""

from tests.takedown.conftest import photo_files, smtp_server, world  # noqa: F401 - fixtures
