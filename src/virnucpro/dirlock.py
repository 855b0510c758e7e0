"""One writer per output directory: an OS-level lock (flock) that the kernel drops when its holder dies.

The lock file `DIR/.virnucpro.lock` holds the holder's pid, host and start time, so a refused run can
name the run that holds the directory. A SIGKILLed holder never leaves a stale lock: the kernel
releases flock locks with the last open descriptor.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from virnucpro.errors import ResumeError
from virnucpro.nofollow import open_fd

LOCK_NAME = ".virnucpro.lock"


@dataclass
class DirLock:
    """A held lock on an output directory; `created_dir` says whether taking it created the directory."""

    path: Path
    fd: int
    created_dir: bool

    def release(self, remove_dir: bool = False) -> None:
        """Drop the lock; with `remove_dir`, also delete the lock file and the (then empty) directory."""
        if self.fd < 0:
            return
        if remove_dir:  # unlinked while still held: a waiting run re-checks the inode (see _try_lock)
            self.path.unlink(missing_ok=True)
            try:
                self.path.parent.rmdir()
            except OSError:
                pass  # not empty: something else lives there
        os.close(self.fd)
        self.fd = -1


def lock_output_dir(root: Path) -> DirLock:
    """Create `root` if needed and lock it for this process.

    Raises:
        ResumeError: another live run holds the directory (names its pid and host).
        OSError: the directory cannot be created or written (translated by the CLI).
    """
    created = not root.exists()
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    while True:
        fd = open_fd(path, os.O_RDWR | os.O_CREAT, 0o644)  # a link planted there is refused, never followed
        if not _try_lock(fd):
            holder = _holder(fd)
            os.close(fd)
            raise ResumeError(f"{root} is in use by another virnucpro run ({holder}): wait for it to finish, stop it, "
                              "or use another -o/--output-dir")
        if _same_file(fd, path):
            break
        os.close(fd)  # the holder removed the file between our open and lock: take the new one
    _write_holder(fd)
    return DirLock(path, fd, created)


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _write_holder(fd: int) -> None:
    text = f"pid {os.getpid()} on host {socket.gethostname()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode(), 0)


def _holder(fd: int) -> str:
    text = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    return text or "holder unknown"
