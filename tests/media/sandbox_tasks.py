"""Module-level task functions for the sandbox tests (they are pickled to the workers)."""

from __future__ import annotations

import os
import signal
import time

from reclaim.media.errors import Corrupt


def behave(item: str) -> str:
    if item == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if item == "hang":
        time.sleep(60)
    if item == "hog":
        blocks = []
        while True:  # allocate until the address-space limit says no
            blocks.append(bytearray(64 * 1024 * 1024))
    if item == "corrupt":
        raise Corrupt(item, "broken on purpose")
    if item == "bug":
        raise RuntimeError("an unexpected decoder bug")
    return item.upper()
