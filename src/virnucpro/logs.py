"""The one `virnucpro` logger: stderr (and optionally a file in the output directory)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Iterator

from virnucpro import __version__

LOGGER = "virnucpro"
BACKLOG_LIMIT = 10_000  # records kept until a run's log file opens
WARNINGS_LIMIT = 100  # warnings kept for run_info.json
_COMMAND: list[str] = []  # the command line `cli.main` parsed (set per call, read by `run_log`)


class OneLineFormatter(logging.Formatter):
    """Every record is one line: control characters, newlines and bidi overrides in a message (a path's) are
    escaped, so a file name can neither forge a log line nor reorder one."""

    def format(self, record: logging.LogRecord) -> str:
        from virnucpro.shown import shown

        return shown(super().format(record))


class _StderrNow(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (a live progress bar redirects it, so a log line is
    printed above the bar instead of being glued onto it)."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _Backlog(logging.Handler):
    """What the command logged before its output directory's log file was open (input summary, warnings):
    replayed into that file by `run_log`, so the file holds everything printed on stderr."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < BACKLOG_LIMIT:
            self.records.append(record)


class _Warnings(logging.Handler):
    """The warnings of this run (their messages), for run_info.json's `warnings` and the report."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.messages) < WARNINGS_LIMIT:
            self.messages.append(record.getMessage())


def run_warnings() -> list[str]:
    """The messages of the warnings logged since `setup_logging` (at most WARNINGS_LIMIT), oldest first."""
    for h in logging.getLogger(LOGGER).handlers:
        if isinstance(h, _Warnings):
            return list(h.messages)
    return []


def setup_logging(verbosity: int = 0, quiet: bool = False, prefix: str = "") -> logging.Logger:
    """Configure stderr logging: -q errors only, default info, -v debug; `prefix` names a worker process."""
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.DEBUG)
    for h in list(log.handlers):
        if getattr(h, "_virnucpro_stderr", False) or isinstance(h, (_Backlog, _Warnings)):
            log.removeHandler(h)
    log.addHandler(_Backlog())
    log.addHandler(_Warnings())
    h = _StderrNow()
    h._virnucpro_stderr = True  # type: ignore[attr-defined]
    h.setLevel(logging.ERROR if quiet else logging.DEBUG if verbosity > 0 else logging.INFO)
    h.setFormatter(OneLineFormatter(f"%(asctime)s %(levelname)s {prefix}%(message)s", "%H:%M:%S"))
    log.addHandler(h)
    log.propagate = False
    return log


def remember_command(argv: list[str]) -> None:
    """Record the arguments `cli.main` parsed, so each run's log and run_info carry the full command line."""
    _COMMAND[:] = ["virnucpro", *argv]


def command_line() -> str:
    """The full command line of this run (`virnucpro predict IN -o OUT ...`), shell-quoted; sys.argv when the CLI
    was not the entry point."""
    import shlex

    return shlex.join(_COMMAND or sys.argv)


def stderr_level() -> int:
    """The level of the stderr handler (what worker processes should print), INFO if none is set up."""
    for h in logging.getLogger(LOGGER).handlers:
        if getattr(h, "_virnucpro_stderr", False):
            return h.level
    return logging.INFO


class _QuietFileHandler(logging.FileHandler):
    """A log file that stops itself on a write error (a full disk) instead of printing a traceback, and is
    appended without following a link planted at its name."""

    def _open(self):  # noqa: ANN202 (logging's name)
        from virnucpro.nofollow import open_append

        return open_append(self.baseFilename, encoding=self.encoding or "utf-8")

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        logging.getLogger(LOGGER).removeHandler(self)
        with contextlib.suppress(OSError):
            self.close()


def add_file_log(path: Path) -> logging.Handler:
    """Also log (debug and up) to `path`; returns the handler so the caller can remove it."""
    h = _QuietFileHandler(path, mode="a", encoding="utf-8", errors="backslashreplace")  # paths may hold any byte
    h.setLevel(logging.DEBUG)
    h.setFormatter(OneLineFormatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger(LOGGER).addHandler(h)
    return h


@contextlib.contextmanager
def run_log(path: Path, info: dict | None = None) -> Iterator[None]:
    """Log to `path` for the duration of a block, after a line that marks where this run starts (with the full
    command line) and the records logged before the file opened. `info` is accepted for the callers' symmetry."""
    earlier = _take_backlog()
    handler = add_file_log(path)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    logging.getLogger(LOGGER).debug("===== run start %s: virnucpro %s, pid %d, command: %s", stamp, __version__,
                                    os.getpid(), command_line())
    for record in earlier:
        handler.handle(record)
    try:
        yield
    except BaseException as exc:
        logging.getLogger(LOGGER).debug("run stopped: %s: %s", type(exc).__name__, exc)
        raise
    finally:
        logging.getLogger(LOGGER).removeHandler(handler)
        handler.close()


def _take_backlog() -> list[logging.LogRecord]:
    """What was logged before a log file opened (once: collecting stops here)."""
    log = logging.getLogger(LOGGER)
    records: list[logging.LogRecord] = []
    for h in list(log.handlers):
        if isinstance(h, _Backlog):
            records += h.records
            log.removeHandler(h)
    return records
