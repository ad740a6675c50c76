"""Why a LAN sweep, or one of its probes, did not do what was asked: typed, so that the
caller can tell a refusal (fix the command) from a probe that met a broken device (a note
in the report) from the clock running out (a shorter report)."""

from __future__ import annotations


class SweepRefused(Exception):
    """The sweep will not run: no explicit target, a target too wide, loopback, the default
    route's interface without confirmation, a network this machine is not on. The message
    says what to do instead."""


class OutOfScope(SweepRefused):
    """A probe tried to reach an address outside the target network. The gate refuses it
    before anything is sent; seeing this is a bug in a probe or a hostile answer (an mDNS
    record or a UPnP LOCATION pointing elsewhere)."""


class OutOfTime(Exception):
    """The sweep's time budget is spent: the probe stops where it is."""


class ProbeFailed(Exception):
    """A probe got no usable answer: nothing listening, timed out, connection reset."""


class Malformed(ProbeFailed):
    """An answer came but does not parse, or broke a limit (size, header count, XML with
    entity declarations). The message is written for the report's notes."""
