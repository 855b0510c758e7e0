"""User-facing errors: each carries a one-line message (problem + fix) and an exit code."""

from __future__ import annotations

import errno
import os

# Every exit code the CLI returns (the README's Usage section lists the same).
EXIT_CODES = {0: "done", 2: "bad input, arguments, paths, models or a full disk",
              3: "the assembled tables failed their final check", 4: "out of GPU memory on a single sequence",
              5: "a device worker died (killed, CUDA error) or stopped answering; the same command resumes",
              130: "stopped by SIGINT (resumable)", 143: "stopped by SIGTERM (resumable)"}


class VirnucproError(Exception):
    """An error the CLI reports as one line, without a traceback."""

    exit_code = 1


class InputError(VirnucproError):
    """Bad input data or arguments (exit code 2)."""

    exit_code = 2


class ModelError(VirnucproError):
    """A model or weight file is missing, malformed or unsafe (exit code 2)."""

    exit_code = 2


class ResumeError(VirnucproError):
    """An output directory cannot be resumed or would be overwritten (exit code 2)."""

    exit_code = 2


class OutOfMemoryError(VirnucproError):
    """A single sequence does not fit on the device even alone (exit code 4)."""

    exit_code = 4


class IntegrityError(VirnucproError):
    """Assembled results do not account for every frame, chunk and record (exit code 3)."""

    exit_code = 3


class WorkerError(VirnucproError):
    """A device worker died, failed or stopped answering; committed units are kept (exit code 5 or the
    worker's own code, e.g. 4 for a sequence that does not fit)."""

    def __init__(self, message: str, exit_code: int = 5) -> None:
        super().__init__(f"{message}: committed units are kept; rerun the same command to resume")
        self.exit_code = exit_code if exit_code not in (0, 1) else 5


class Stopped(VirnucproError):
    """SIGTERM/SIGINT arrived: the run stopped cleanly and can be resumed (exit code 128 + signal)."""

    def __init__(self, signal_name: str, exit_code: int) -> None:
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name
        self.exit_code = exit_code


_OS_FIXES = {
    errno.ENOSPC: ("no space left on the device", "free space or use another -o/--output-dir, then rerun the same "
                   "command to resume"),
    errno.EDQUOT: ("disk quota exceeded", "free space or use another -o/--output-dir, then rerun the same command"),
    errno.EROFS: ("read-only file system", "choose a writable -o/--output-dir"),
    errno.EACCES: ("permission denied", "choose a location you can write to, or fix its permissions"),
    errno.EPERM: ("operation not permitted", "choose a location you can write to, or fix its permissions"),
    errno.ENOTDIR: ("a part of the path is a file, not a directory", "choose another -o/--output-dir"),
    errno.EISDIR: ("is a directory", "give a file path"),
    errno.ENOLCK: ("file locking is not available there", "put -o/--output-dir on a file system with locks (local "
                   "disk or a lock-enabled NFS mount)"),
    errno.ELOOP: ("too many levels of symbolic links (a link loop)", "fix the link or give the real path"),
    errno.ENAMETOOLONG: ("file name too long", "give a shorter path"),
    errno.EIO: ("input/output error", "check the storage device, then rerun the same command"),
}


def describe_os_error(exc: OSError) -> VirnucproError:
    """One line for an OS-level failure (disk full, read-only, permissions): problem, path, fix (exit 2).

    Permission denied on a path that exists but cannot be read (a model, an input, chmod 000) is a read
    problem, named so; elsewhere it is a place that cannot be written.
    """
    if exc.errno in (errno.EACCES, errno.EPERM) and exc.filename and _unreadable(str(exc.filename)):
        return InputError(f"permission denied reading {str(exc.filename)[:120]!r}: make it readable for you (chmod "
                          "u+r, and u+x on its directories) or give another file")
    what, fix = _OS_FIXES.get(exc.errno, (exc.strerror or type(exc).__name__, "check the path and the storage"))
    where = f" at {str(exc.filename)[:120]!r}" if exc.filename else ""
    return InputError(f"{what}{where}: {fix}")


def _unreadable(path: str) -> bool:
    """True if `path` exists (as far as can be seen) and opening it for reading is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except PermissionError:
        return os.path.lexists(path) or not os.access(os.path.dirname(os.path.abspath(path)), os.X_OK)
    except OSError:
        return False
    os.close(fd)
    return False
