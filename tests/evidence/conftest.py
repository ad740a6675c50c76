"""The evidence tests use the monitor's loopback site and canary server."""

from tests.monitor.conftest import site, trap  # noqa: F401 - fixtures shared with the monitor
