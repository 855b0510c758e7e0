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


def setup_logging(verbosity: int = 0, quiet: bool = False, prefix: str = "") -> logging.Logger:
    """Configure stderr logging: -q errors only, default info, -v debug; `prefix` names a worker process."""
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.DEBUG)
    for h in list(log.handlers):
        if getattr(h, "_virnucpro_stderr", False):
            log.removeHandler(h)
    h = logging.StreamHandler()
    h._virnucpro_stderr = True  # type: ignore[attr-defined]
    h.setLevel(logging.ERROR if quiet else logging.DEBUG if verbosity > 0 else logging.INFO)
    h.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s {prefix}%(message)s", "%H:%M:%S"))
    log.addHandler(h)
    log.propagate = False
    return log


def stderr_level() -> int:
    """The level of the stderr handler (what worker processes should print), INFO if none is set up."""
    for h in logging.getLogger(LOGGER).handlers:
        if getattr(h, "_virnucpro_stderr", False):
            return h.level
    return logging.INFO


class _QuietFileHandler(logging.FileHandler):
    """A log file that stops itself on a write error (a full disk) instead of printing a traceback."""

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        logging.getLogger(LOGGER).removeHandler(self)
        with contextlib.suppress(OSError):
            self.close()


def add_file_log(path: Path) -> logging.Handler:
    """Also log (debug and up) to `path`; returns the handler so the caller can remove it."""
    h = _QuietFileHandler(path, mode="a")
    h.setLevel(logging.DEBUG)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger(LOGGER).addHandler(h)
    return h


@contextlib.contextmanager
def run_log(path: Path, info: dict | None = None) -> Iterator[None]:
    """Log to `path` for the duration of a block, after a line that marks where this run starts."""
    handler = add_file_log(path)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    logging.getLogger(LOGGER).debug("===== run start %s: virnucpro %s, pid %d, command: %s", stamp, __version__,
                                    os.getpid(), (info or {}).get("command", " ".join(sys.argv)))
    try:
        yield
    except BaseException as exc:
        logging.getLogger(LOGGER).debug("run stopped: %s: %s", type(exc).__name__, exc)
        raise
    finally:
        logging.getLogger(LOGGER).removeHandler(handler)
        handler.close()
