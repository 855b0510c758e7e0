"""The one `virnucpro` logger: stderr (and optionally a file in the output directory)."""

from __future__ import annotations

import logging
from pathlib import Path

LOGGER = "virnucpro"


def setup_logging(verbosity: int = 0, quiet: bool = False) -> logging.Logger:
    """Configure stderr logging: -q errors only, default info, -v debug."""
    log = logging.getLogger(LOGGER)
    log.setLevel(logging.DEBUG)
    for h in list(log.handlers):
        if getattr(h, "_virnucpro_stderr", False):
            log.removeHandler(h)
    h = logging.StreamHandler()
    h._virnucpro_stderr = True  # type: ignore[attr-defined]
    h.setLevel(logging.ERROR if quiet else logging.DEBUG if verbosity > 0 else logging.INFO)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
    log.addHandler(h)
    log.propagate = False
    return log


def add_file_log(path: Path) -> logging.Handler:
    """Also log (debug and up) to `path`; returns the handler so the caller can remove it."""
    h = logging.FileHandler(path, mode="a")
    h.setLevel(logging.DEBUG)
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger(LOGGER).addHandler(h)
    return h
