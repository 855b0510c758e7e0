"""One progress bar on stderr, shown only on a terminal (quiet in logs and CI)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class NullProgress:
    """Progress sink used off-terminal."""

    def update(self, advance: float = 0) -> None:
        pass


class _RichProgress:
    def __init__(self, progress, task) -> None:
        self._p, self._t = progress, task

    def update(self, advance: float = 0) -> None:
        self._p.update(self._t, advance=advance)


def _rate_column(unit: str):
    from rich.progress import ProgressColumn
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.0f} {unit}/s")

    return RateColumn()


@contextlib.contextmanager
def progress_bar(description: str, unit: str, total: float | None = None,
                 enabled: bool = True) -> Iterator[NullProgress | _RichProgress]:
    """A transient progress bar with rate and ETA when stderr is a terminal, else a no-op."""
    if not (enabled and sys.stderr.isatty()):
        yield NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), _rate_column(unit),
               TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as p:
        yield _RichProgress(p, p.add_task(description, total=total))
