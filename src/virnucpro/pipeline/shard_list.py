"""Which directories a merge reads: those named, those a file lists (one per line), and the shards inside a
parent directory named instead of its shards (`merge shards/ -o out`), so 100,000 shards need no
100,000 arguments (the shell's argument list has a limit near 2 MB)."""

from __future__ import annotations

import sys
from pathlib import Path

from virnucpro.errors import InputError

RECORD = "run_info.json"


def shard_directories(named: list[Path], listing: Path | None = None, output: Path | None = None) -> list[Path]:
    """The shard directories to merge, in the order given.

    Args:
        named: directories from the command line; one that is not a run but holds runs stands for them.
        listing: a file (or '-' for stdin) naming one directory per line; blank lines and `#` lines are skipped.
        output: the merge's own -o, never taken from a parent directory (`merge shards/ -o shards/all`).

    Raises:
        InputError: no directory at all, or a listing that cannot be read.
    """
    dirs = [*named, *(_read_listing(listing) if listing is not None else [])]
    skip = output.resolve() if output is not None else None
    found = [d for given in dirs for d in _expand(given, skip)]
    if not found:
        raise InputError("no shard directory given: name the -o directories of the `predict --shard I/N` runs, their "
                         "parent directory, or a file listing them with --shard-list")
    return found


def _expand(directory: Path, skip: Path | None) -> list[Path]:
    """`directory` itself, or, when it holds no run but subdirectories that do, those (sorted by name, numbers
    by value)."""
    if (directory / RECORD).exists() or not directory.is_dir():
        return [directory]
    try:
        inner = [p for p in directory.iterdir() if (p / RECORD).is_file() and p.resolve() != skip]
    except OSError:
        return [directory]  # read_shards names it
    return sorted(inner, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else 0, p.name)) or [
        directory]


def _read_listing(listing: Path) -> list[Path]:
    try:
        text = sys.stdin.read() if str(listing) == "-" else Path(listing).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--shard-list {str(listing)[:80]!r} cannot be read ({exc.__class__.__name__}): give a text "
                         "file with one shard directory per line") from None
    lines = [ln.strip() for ln in text.splitlines()]
    return [Path(ln) for ln in lines if ln and not ln.startswith("#")]
