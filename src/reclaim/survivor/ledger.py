"""The withdrawal ledger: which cases were withdrawn, kept outside the database.

A database restored from a backup taken before a survivor withdrew would bring her case
back -- its banked hashes, its notices, the wrapped key of her stored files. So every
withdrawal is also appended to ``DATA_DIR/withdrawals.log`` once it has committed, and
``reclaim backup restore`` withdraws every case listed there again (crypto-shredding again
whatever came back). A line is ``<UTC time> <case number>``: nothing about the survivor
but that the case was withdrawn. Copy the file off the machine as often as the backups
(docs/deploy.md); a crash between the commit and the append loses that one line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from reclaim.config import Settings
from reclaim.store.base import utcnow

_LINE = re.compile(r"(\S+) ([A-Za-z0-9-]{1,16})")


def ledger_path(settings: Settings) -> Path:
    return settings.data_dir / "withdrawals.log"


def record(settings: Settings, case_number: str) -> None:
    """Append ``case_number`` (its withdrawal has committed), durably."""
    path = ledger_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(descriptor, f"{utcnow().isoformat()} {case_number}\n".encode())
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read(paths: Iterable[Path]) -> list[str]:
    """The case numbers the ledgers at ``paths`` list (missing files list none), in order
    of first mention; ``ValueError`` on a line that is not a ledger line."""
    numbers: dict[str, None] = {}
    for path in paths:
        if not path.is_file():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            found = _LINE.fullmatch(line.strip())
            if found is None:
                raise ValueError(f"{path} line {number} is not a withdrawal record")
            numbers.setdefault(found[2], None)
    return list(numbers)
