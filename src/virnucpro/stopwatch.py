"""Wall-clock time per stage of a run, partitioned so the parts add up to the total."""

from __future__ import annotations

import contextlib
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Clock:
    """`lap(name)` charges the time since the previous mark to `name`; `timing(name)` charges a block.

    `summary()` adds `other` (time charged to nothing: loop overhead, bookkeeping) so that the parts
    sum to `total`.
    """

    def __init__(self) -> None:
        self.start = self._mark = time.perf_counter()
        self.parts: dict[str, float] = {}

    def _charge(self, name: str, seconds: float) -> None:
        self.parts[name] = self.parts.get(name, 0.0) + seconds

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self._charge(name, now - self._mark)
        self._mark = now

    def skip(self) -> None:
        """Move the mark without charging a lap (the time was charged by `timing` blocks)."""
        self._mark = time.perf_counter()

    @contextlib.contextmanager
    def timing(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self._charge(name, time.perf_counter() - t0)

    def timed_iter(self, items: Iterable[T], name: str) -> Iterator[T]:
        """Iterate `items`, charging the waits for each next item to `name`."""
        it = iter(items)
        while True:
            with self.timing(name):
                item = next(it, StopIteration)
            if item is StopIteration:
                return
            yield item

    def summary(self) -> dict[str, float]:
        total = time.perf_counter() - self.start
        other = max(0.0, total - sum(self.parts.values()))
        return {**{k: round(v, 3) for k, v in self.parts.items()}, "other": round(other, 3), "total": round(total, 3)}
