"""One progress bar on stderr when it is a terminal; elsewhere (batch jobs, SLURM, pipes) a progress line in
the log every `VIRNUCPRO_PROGRESS_SECONDS` seconds (default 60): done / total, rate, ETA."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import Iterator

DEFAULT_LOG_SECONDS = 60.0


class NullProgress:
    """Progress sink used off-terminal."""

    def update(self, advance: float = 0) -> None:
        pass

    def skip(self, advance: float) -> None:
        pass

    def begin(self) -> None:
        pass


class LogProgress:
    """Progress as log lines (stderr is not a terminal): one every `interval` seconds while work advances."""

    def __init__(self, description: str, unit: str, total: float | None, interval: float,
                 clock=time.monotonic) -> None:
        self.description, self.unit, self.total, self.interval, self.clock = description, unit, total, interval, clock
        self.done = self.skipped = 0.0
        self.start = self.last = clock()

    def update(self, advance: float = 0) -> None:
        self.done += advance
        if self.clock() - self.last >= self.interval:
            self.say()

    def skip(self, advance: float) -> None:
        self.skipped += advance
        self.done += advance

    def begin(self) -> None:
        self.start = self.last = self.clock()

    def say(self) -> None:
        now = self.clock()
        self.last = now
        ran = self.done - self.skipped
        rate = ran / (now - self.start) if now > self.start and ran > 0 else None
        of = f" of {self.total:,.0f} ({100 * self.done / self.total:.1f}%)" if self.total else ""
        speed = f", {rate:,.0f} {self.unit}/s" if rate else ""
        eta = ""
        if rate and self.total:
            left = max(0.0, self.total - self.done) / rate
            eta = f", eta {int(left // 3600)}:{int(left % 3600 // 60):02d}:{int(left % 60):02d}"
        logging.getLogger("virnucpro").info("%s: %s %s%s%s%s", self.description, f"{self.done:,.0f}", self.unit, of,
                                            speed, eta)


def log_interval() -> float:
    """Seconds between progress lines off-terminal: $VIRNUCPRO_PROGRESS_SECONDS, else 60."""
    try:
        return max(0.0, float(os.environ.get("VIRNUCPRO_PROGRESS_SECONDS", DEFAULT_LOG_SECONDS)))
    except ValueError:
        return DEFAULT_LOG_SECONDS


class _RichProgress:
    def __init__(self, progress, task) -> None:
        self._p, self._t = progress, task
        self._skipped = 0.0

    def update(self, advance: float = 0) -> None:
        self._p.update(self._t, advance=advance)

    def skip(self, advance: float) -> None:
        """Work found already done (a resume): counts as progress, not towards the rate or the ETA."""
        self._skipped += advance
        self._p.update(self._t, advance=advance, skipped=self._skipped)

    def begin(self) -> None:
        """The computing starts now (models loaded): the rate and the ETA count from here."""
        self._p.update(self._t, rate_from=self._p.get_time())


def _done_and_rate(task) -> tuple[float, float | None]:
    """(work done in this run, its rate per second), from the first update on (rich's own speed needs two)."""
    done = task.completed - task.fields.get("skipped", 0.0)
    start = task.fields.get("rate_from")
    elapsed = (task.get_time() - start) if start is not None else (task.elapsed or 0.0)
    return done, (done / elapsed if done > 0 and elapsed > 0 else None)


def _columns(unit: str):
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            _, rate = _done_and_rate(task)
            return Text("" if rate is None else f"{rate:,.0f} {unit}/s")

    class EtaColumn(ProgressColumn):
        def render(self, task) -> Text:
            _, rate = _done_and_rate(task)
            if rate is None or task.total is None:
                return Text("eta -:--:--")
            left = max(0.0, task.total - task.completed) / rate
            return Text(f"eta {int(left // 3600)}:{int(left % 3600 // 60):02d}:{int(left % 60):02d}")

    return RateColumn(), EtaColumn()


@contextlib.contextmanager
def progress_bar(description: str, unit: str, total: float | None = None,
                 enabled: bool = True) -> Iterator[NullProgress | LogProgress | _RichProgress]:
    """A transient progress bar with rate and ETA when stderr is a terminal, else progress lines in the log."""
    if not enabled:
        yield NullProgress()
        return
    if not sys.stderr.isatty():
        yield LogProgress(description, unit, total, log_interval())
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *_columns(unit),
               TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as p:
        yield _RichProgress(p, p.add_task(description, total=total))
