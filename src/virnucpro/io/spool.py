"""Inputs that can be read only once ('-', pipes, FIFOs, `<(zcat ...)`, /dev/stdin) are copied once.

`predict` reads its input several times (hash, scan, compute), so anything that is not a regular
file is spooled into the output directory, hashed while it is copied, and read from there.
"""

from __future__ import annotations

import hashlib
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from virnucpro.io.hashing import sha256_file
from virnucpro.io.seqio import SPOOLED_NAME, check_input_path
from virnucpro.nofollow import create_new


@dataclass(frozen=True)
class InputSource:
    """A re-readable input: `path` to read, `given` as the user named it, its size and sha256."""

    path: str
    given: str
    size: int
    sha256: str
    spooled: bool

    def describe(self) -> dict:
        shown = self.given if self.spooled else str(Path(self.given).resolve())
        return {"path": shown, "bytes": self.size, "sha256": self.sha256}


def is_regular_file(path: str) -> bool:
    return path != "-" and stat.S_ISREG(os.stat(path).st_mode)


def open_input(given: str, out_dir: Path, index: int = 0) -> InputSource:
    """A re-readable source for `given`: the file itself, or a hashed copy in `out_dir` for streams
    (`.input.spool`, then `.input.spool.2`, ... for the run's `index`-th input).

    Raises:
        InputError: the path is empty, missing or a directory.
    """
    check_input_path(given)
    if is_regular_file(given):
        return InputSource(given, given, os.path.getsize(given), sha256_file(Path(given)), spooled=False)
    target = out_dir / (SPOOLED_NAME + (f".{index + 1}" if index else ""))
    try:
        size, digest = _copy_hashing(given, target)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return InputSource(str(target), given, size, digest, spooled=True)


def _copy_hashing(given: str, target: Path) -> tuple[int, str]:
    h, size = hashlib.sha256(), 0
    src = sys.stdin.buffer if given == "-" else open(given, "rb")  # noqa: SIM115 (closed below unless stdin)
    try:
        with create_new(target) as fh:  # never through a link planted at the spool's name
            while block := src.read(1 << 20):
                h.update(block)
                fh.write(block)
                size += len(block)
    finally:
        if src is not sys.stdin.buffer:
            src.close()
    return size, h.hexdigest()
