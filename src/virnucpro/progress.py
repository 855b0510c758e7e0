"""One progress bar on stderr, shown only on a terminal (quiet in logs and CI)."""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator


class NullProgress:
    """Progress sink used off-terminal."""

    def update(self, advance: float = 0) -> None:
        pass

    def skip(self, advance: float) -> None:
        pass

    def begin(self) -> None:
        pass


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
                 enabled: bool = True) -> Iterator[NullProgress | _RichProgress]:
    """A transient progress bar with rate and ETA when stderr is a terminal, else a no-op."""
    if not (enabled and sys.stderr.isatty()):
        yield NullProgress()
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), *_columns(unit),
               TimeElapsedColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as p:
        yield _RichProgress(p, p.add_task(description, total=total))
