"""SIGTERM (what SLURM sends at the time limit) and SIGINT become one exception that unwinds cleanly.

While `stop_on_signals()` is active, either signal raises `Stopped` in the main thread, so every
`finally` and atomic-write cleanup runs and the committed work units stay for a resume.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

from virnucpro.errors import Stopped


def _raise(signum, _frame) -> None:
    raise Stopped(signal.Signals(signum).name, 128 + signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGINT into `Stopped` for the duration (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = {s: signal.signal(s, _raise) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
