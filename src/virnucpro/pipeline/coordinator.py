"""Several devices, one run: worker processes take the next unit when they are free (dynamic balance).

The coordinator (the main process) parses and prepares the input once and feeds whole units into a
bounded queue; each worker process (`serve`, one per `--device` entry) loads the models and runs
the same `UnitRunner` as a one-device run, committing units itself. Workers report every batch and
unit on a result queue. A worker that dies, fails or stops answering stops the whole run within
seconds with one line naming its device and the cause; committed units stay for the resume.
With one device the runner works in the main process: the same code, without the queues.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

from virnucpro.errors import Stopped, VirnucproError, WorkerError, describe_os_error
from virnucpro.logs import stderr_level
from virnucpro.pipeline.worker import UnitCallbacks, UnitRunner, WorkerConfig, load_models, queued_units
from virnucpro.pipeline.workunits import UnitPlan
from virnucpro.prep.prepare import PreparedBatch
from virnucpro.stopwatch import Clock

log = logging.getLogger("virnucpro")
READY_TIMEOUT = 3600.0  # loading (and compiling) the models may take long on a busy file system


@dataclass
class DeviceStats:
    """What one worker did: units and frames committed, seconds busy, model loading time, the batch budgets used."""

    device: str
    units: int = 0
    frames: int = 0
    busy_seconds: float = 0.0
    load_seconds: float = 0.0
    batch_tokens: tuple[int, int] | None = None  # (ESM-2, DNABERT-S) packed tokens per batch, as the engine used them
    commits: list[tuple[float, int]] = field(default_factory=list)  # (time, frames) per committed unit

    def committed(self, frames: int) -> None:
        self.units, self.frames = self.units + 1, self.frames + frames
        self.commits.append((time.monotonic(), frames))

    def steady_rate(self) -> float | None:
        """Frames/s from the first commit to the last (warm-up and compilation excluded)."""
        if len(self.commits) < 2 or self.commits[-1][0] <= self.commits[0][0]:
            return None
        return sum(f for _, f in self.commits[1:]) / (self.commits[-1][0] - self.commits[0][0])

    def summary(self) -> dict:
        rate, steady = (self.frames / self.busy_seconds if self.busy_seconds > 0 else 0.0), self.steady_rate()
        return {"device": self.device, "units": self.units, "frames": self.frames,
                "seconds": round(self.busy_seconds, 3), "frames_per_s": round(rate, 1),
                "steady_frames_per_s": None if steady is None else round(steady, 1),
                "load_models_seconds": round(self.load_seconds, 3),
                "esm_batch_tokens": self.batch_tokens[0] if self.batch_tokens else None,
                "dnabert_batch_tokens": self.batch_tokens[1] if self.batch_tokens else None}


@dataclass
class _Worker:
    index: int
    cfg: WorkerConfig
    process: object
    stats: DeviceStats
    ready: bool = False
    exited: bool = False
    last_heard: float = field(default_factory=time.monotonic)


def compute(units: Iterator[tuple[UnitPlan, PreparedBatch]], configs: list[WorkerConfig], bar, clock: Clock,
            worker_timeout: float, preloaded=None) -> list[DeviceStats]:
    """Compute every unit on the devices of `configs`; returns what each device did."""
    if len(configs) == 1:
        return [_in_process(units, configs[0], bar, clock, preloaded)]
    return _Coordinator(configs, bar, worker_timeout).run(units)


def _in_process(units, cfg: WorkerConfig, bar, clock: Clock, preloaded) -> DeviceStats:
    """One device: the runner in this process (no queues, no second copy of the models)."""
    stats = DeviceStats(cfg.device)
    t0 = time.perf_counter()
    embedder, classifier = preloaded if preloaded is not None else load_models(cfg)
    stats.load_seconds = time.perf_counter() - t0
    stats.batch_tokens = engine_batch_tokens(embedder)
    if preloaded is None:
        log.info("models loaded on %s (%s) in %.1f s", cfg.device, cfg.precision, stats.load_seconds)
    clock.lap("load_models")
    bar.begin()

    def unit_done(plan: UnitPlan, _seconds: float) -> None:
        stats.committed(plan.frames)

    t0 = time.perf_counter()
    UnitRunner(embedder, classifier, cfg, UnitCallbacks(bar.update, unit_done), clock).run(units)
    stats.busy_seconds = time.perf_counter() - t0
    clock.skip()  # compute time is charged to wait_for_input / embed / classify_and_commit
    return stats


class _Coordinator:
    def __init__(self, configs: list[WorkerConfig], bar, worker_timeout: float) -> None:
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")  # CUDA cannot be forked
        self.tasks = self.ctx.Queue(maxsize=len(configs))  # bounded: the coordinator holds few units
        self.results = self.ctx.Queue()
        self.bar, self.timeout = bar, worker_timeout
        self.stop = threading.Event()
        self.feed_error: BaseException | None = None
        self.workers = [_Worker(i, c, None, DeviceStats(c.device)) for i, c in enumerate(configs)]

    def run(self, units) -> list[DeviceStats]:
        level = stderr_level()
        for w in self.workers:
            w.process = self.ctx.Process(target=serve, args=(w.cfg, w.index, self.tasks, self.results, level),
                                         name=f"virnucpro-worker-{w.index}", daemon=True)
            w.process.start()
            log.info("worker %d on %s started (pid %d)", w.index, w.cfg.device, w.process.pid)
        feeder = threading.Thread(target=self._feed, args=(units,), name="virnucpro-feeder", daemon=True)
        feeder.start()
        try:
            while not all(w.exited for w in self.workers):
                self._handle(self._next_message())
        finally:
            self.stop.set()
            self._shut_down()
        return [w.stats for w in self.workers]

    def _feed(self, units) -> None:
        """Put every unit, then one end marker per worker (in a thread: parsing overlaps the waiting)."""
        try:
            for item in units:
                if not self._put(item):
                    return
            for _ in self.workers:
                if not self._put(None):
                    return
        except BaseException as exc:  # an input error mid-stream: reported by the main loop
            self.feed_error = exc

    def _put(self, item) -> bool:
        while not self.stop.is_set():
            try:
                self.tasks.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _next_message(self):
        while True:
            if self.feed_error is not None:
                raise self.feed_error
            try:
                return self.results.get(timeout=0.5)
            except queue.Empty:
                self._check_workers()

    def _handle(self, msg) -> None:
        kind, index, *rest = msg
        w = self.workers[index]
        w.last_heard = time.monotonic()
        if kind == "batch":
            self.bar.update(rest[0])
        elif kind == "unit":
            w.stats.committed(rest[0])
        elif kind == "ready":
            if not any(x.ready for x in self.workers):
                self.bar.begin()
            w.ready, w.stats.load_seconds, w.stats.batch_tokens = True, rest[0], tuple(rest[1])
            log.info("worker %d on %s: models loaded in %.1f s", index, w.cfg.device, rest[0])
        elif kind == "exit":
            w.exited, w.stats.busy_seconds = True, rest[0]
        elif kind == "error":
            message, code = rest
            raise WorkerError(f"worker {index} on {w.cfg.device} failed: {message}", code)

    def _check_workers(self) -> None:
        """A worker that died without saying so, or that stopped answering, stops the run."""
        now = time.monotonic()
        for w in self.workers:
            code = w.process.exitcode
            if code is not None and not w.exited:
                self._drain()  # its last words (an error message, or its normal exit) may still be queued
            if code is not None and not w.exited:
                raise WorkerError(f"worker {w.index} on {w.cfg.device} {_death(code)}")
            limit = self.timeout if w.ready else max(self.timeout, READY_TIMEOUT)
            if not w.exited and now - w.last_heard > limit:
                raise WorkerError(f"worker {w.index} on {w.cfg.device} stopped answering for {limit:.0f} s "
                                  "(hung device or process?)")

    def _drain(self) -> None:
        while True:
            try:
                self._handle(self.results.get(timeout=0.2))
            except queue.Empty:
                return

    def _shut_down(self) -> None:
        """Stop every worker that is still running (their unfinished units are simply not committed)."""
        started = [w for w in self.workers if w.process is not None]
        for w in started:
            if w.process.is_alive():
                with contextlib.suppress(ProcessLookupError):  # it may exit in between
                    os.kill(w.process.pid, signal.SIGTERM)
                    os.kill(w.process.pid, signal.SIGCONT)  # a stopped (hung) worker must run to see the SIGTERM
        deadline = time.monotonic() + 10
        for w in started:
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
        self.tasks.cancel_join_thread()
        self.results.cancel_join_thread()


def engine_batch_tokens(embedder) -> tuple[int, int]:
    """(ESM-2, DNABERT-S) tokens per batch the engine runs with (the flag's value, or the device's default)."""
    return embedder.cfg.esm_batch_tokens, embedder.cfg.dnabert_batch_tokens


def _death(exitcode: int) -> str:
    if exitcode < 0:
        name = signal.Signals(-exitcode).name
        hint = " (the out-of-memory killer?)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"exited with code {exitcode} without finishing"


def serve(cfg: WorkerConfig, index: int, tasks, results, log_level: int) -> None:
    """A worker process: load the models, then compute units from `tasks` until the end marker."""
    from virnucpro.logs import setup_logging
    from virnucpro.signals import stop_on_signals

    setup_logging(verbosity=int(log_level <= logging.DEBUG), quiet=log_level >= logging.ERROR,
                  prefix=f"[{cfg.device} #{index}] ")
    try:
        with stop_on_signals():
            t0 = time.perf_counter()
            embedder, classifier = load_models(cfg)
            results.put(("ready", index, time.perf_counter() - t0, engine_batch_tokens(embedder)))
            report = UnitCallbacks(lambda n: results.put(("batch", index, n)),
                                   lambda plan, _sec: results.put(("unit", index, plan.frames)))
            t0 = time.perf_counter()
            UnitRunner(embedder, classifier, cfg, report).run(queued_units(tasks), lookahead=1)
        results.put(("exit", index, time.perf_counter() - t0))
    except Stopped as exc:
        raise SystemExit(exc.exit_code) from None
    except VirnucproError as exc:
        _last_words(results, index, str(exc), exc.exit_code)
    except OSError as exc:
        err = describe_os_error(exc)
        _last_words(results, index, str(err), err.exit_code)
    except BaseException as exc:  # a CUDA error, a bug: reported as one line by the coordinator
        _last_words(results, index, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}", 1)


def _last_words(results, index: int, message: str, code: int) -> None:
    results.put(("error", index, message, code))
    results.close()
    results.join_thread()  # the message must leave before the process does
    raise SystemExit(code)
