"""Writing in a directory a user shares, never through a planted link.

Every file the tool creates or appends in a directory it writes (lock, log, temporaries, tables, run record,
work units, caches, spool, pages) is opened here with O_NOFOLLOW: a symbolic link planted at that name is
refused in one line (exit 2), never followed to overwrite the file it points at. Temporaries are created
with O_EXCL, and a final name is replaced by rename, which replaces a link itself, never its target.
Directories the tool creates or empties inside its own are checked the same way, and a link there is
unlinked, never descended into.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import IO

from virnucpro.errors import InputError
from virnucpro.shown import shown

NOFOLLOW = os.O_NOFOLLOW | os.O_CLOEXEC


def link_refused(path: Path | str) -> InputError:
    """The one-line refusal of a symbolic link found where the tool writes (exit 2)."""
    return InputError(f"{shown(path)} is a symbolic link: virnucpro never writes through a link in a directory it "
                      "writes; remove the link (or use another -o/--output-dir) and rerun")


def check_not_link(path: Path | str) -> None:
    """Raises InputError (`link_refused`) if `path` itself is a symbolic link."""
    if os.path.islink(path):
        raise link_refused(path)


def open_fd(path: Path | str, flags: int, mode: int = 0o666) -> int:
    """os.open without following a final link; a link there is refused in one line.

    Raises:
        InputError: `path` is a symbolic link.
        OSError: any other failure, naming `path`.
    """
    try:
        return os.open(path, flags | NOFOLLOW, mode)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EEXIST) and os.path.islink(path):
            raise link_refused(path) from None
        raise


def create_new(path: Path | str, mode: str = "wb", buffering: int = -1) -> IO:
    """A fresh file at `path` (O_EXCL: never an existing file or link); a leftover entry there (a killed run's
    temporary, or a link) is unlinked first: unlinking removes the entry, never what a link points at."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        fd = os.open(path, flags | NOFOLLOW, 0o666)
    except FileExistsError:
        if not _replaceable(path):  # a device, FIFO or directory at that name is never removed
            raise
        os.unlink(path)
        fd = os.open(path, flags | NOFOLLOW, 0o666)
    return os.fdopen(fd, mode, buffering)


def _replaceable(path: Path | str) -> bool:
    """A leftover entry that may be unlinked: a regular file or a link (never what the link points at)."""
    import stat

    mode = os.lstat(path).st_mode
    return stat.S_ISREG(mode) or stat.S_ISLNK(mode)


def open_append(path: Path | str, encoding: str = "utf-8") -> IO:
    """`path` opened for appending text (created if missing), never through a link."""
    fd = open_fd(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    return os.fdopen(fd, "a", encoding=encoding, errors="backslashreplace")


def make_dirs(path: Path, root: Path | None = None) -> None:
    """mkdir -p `path`; every component below `root` (default: only `path` itself) must be a real directory.

    Raises:
        InputError: one of them is a symbolic link.
    """
    path = Path(path)
    below = [path] if root is None else [root / Path(*path.relative_to(root).parts[:k + 1])
                                         for k in range(len(path.relative_to(root).parts))]
    for p in below:
        check_not_link(p)
    path.mkdir(parents=True, exist_ok=True)
    for p in below:
        check_not_link(p)


def remove_entry(path: Path) -> None:
    """Remove a file, a directory tree, or a link itself (never what it points at); missing is fine."""
    if os.path.islink(path) or (os.path.lexists(path) and not os.path.isdir(path)):
        os.unlink(path)
    elif os.path.isdir(path):
        shutil.rmtree(path)
