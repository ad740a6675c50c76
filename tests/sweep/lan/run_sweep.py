"""Run one LAN sweep and print its report as JSON: the tests start this inside the
sweeper's network namespace (``ip netns exec NS``, with ``NS`` also given as the first
argument). It refuses to run unless this process really is in that test namespace, so that
no test can sweep a real network by mistake."""

from __future__ import annotations

import json
import os
import sys

from reclaim.sweep.lan import LanOptions, SweepRefused, sweep
from tests.sweep.lan.netns import PREFIX


def inside(namespace: str) -> bool:
    """Whether this process is in the named test namespace (``/var/run/netns/NAME`` is a
    bind mount of that namespace: same device and inode as our own)."""
    if not namespace.startswith(PREFIX + "-"):
        return False
    try:
        mine = os.stat("/proc/self/ns/net")
        named = os.stat(f"/var/run/netns/{namespace}")
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def main() -> None:
    namespace, raw = sys.argv[1:3]
    if not inside(namespace):
        sys.exit(f"run_sweep: not inside the test namespace {namespace!r}: refusing to sweep")
    arguments = json.loads(raw)
    options = LanOptions(**arguments.pop("options", {}))
    try:
        report = sweep(**arguments, options=options)
    except SweepRefused as refusal:
        print(json.dumps({"refused": str(refusal), "type": type(refusal).__name__}))
        return
    print(
        json.dumps({"report": report.to_json(), "text": report.to_text(), "html": report.to_html()})
    )


if __name__ == "__main__":
    main()
