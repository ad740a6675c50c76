"""A task module whose import kills any worker process (a broken install, say)."""

from __future__ import annotations

import multiprocessing
import os

if multiprocessing.current_process().name == "reclaim-decoder":
    os._exit(3)


def echo(item: str) -> str:
    return item.upper()
