"""How many CPU threads a run may use: `--threads`, else the job's own share of the cores.

The default is a pure function of the job's environment (`default_threads`): the cores of its CPU
affinity (what SLURM's `--cpus-per-task` grants), bounded by `OMP_NUM_THREADS` and
`SLURM_CPUS_PER_TASK` when they are set. It is not lowered by the load average: on the CPU a score's
last digit depends on the thread count, and the same command must give the same bytes every time.
Instead, when other processes keep some of the job's cores busy (the threads they have running,
sampled from /proc/loadavg), a warning names the faster `--threads`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Mapping

log = logging.getLogger("virnucpro")

LIMIT_VARIABLES = ("OMP_NUM_THREADS", "SLURM_CPUS_PER_TASK")  # each, when a positive integer, bounds the default


@dataclass(frozen=True)
class CpuState:
    """What the default thread count depends on, read once from the OS (`cpu_state`)."""

    affinity: int  # cores this process may run on
    total: int  # cores of the machine
    others: float  # threads of other processes running now, on the whole machine
    env: Mapping[str, str] = field(default_factory=dict)  # the LIMIT_VARIABLES that are set


def cpu_state() -> CpuState:
    """The CPU affinity, the machine's cores, the other processes' running threads and the limit variables, now."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        affinity = os.cpu_count() or 1
    env = {k: os.environ[k] for k in LIMIT_VARIABLES if k in os.environ}
    return CpuState(max(1, affinity), max(1, os.cpu_count() or 1, affinity), others_running(), env)


def others_running(samples: int = 5, interval: float = 0.01) -> float:
    """Threads of other processes running now: /proc/loadavg's running count less this thread, the least of a
    few samples (a steady load, not a blip); 0 where there is no /proc."""
    import time

    seen = []
    for k in range(samples):
        try:
            with open("/proc/loadavg") as fh:
                running = int(fh.read().split()[3].split("/")[0])
        except (OSError, ValueError, IndexError):
            return 0.0
        seen.append(running - 1)
        if k + 1 < samples:
            time.sleep(interval)
    return float(max(0, min(seen)))


def default_threads(state: CpuState) -> tuple[int, str]:
    """(threads, where the number comes from) for `--threads 0`: the affinity's cores, bounded by the variables."""
    threads, source = state.affinity, "the cores this job may use"
    for name in LIMIT_VARIABLES:
        value = _positive_int(state.env.get(name))
        if value is not None and value < threads:
            threads, source = value, name
    return threads, source


def busy_cores(state: CpuState) -> int:
    """Cores of this job that other processes keep busy: their running threads beyond the cores outside its affinity."""
    outside = state.total - state.affinity  # other processes' threads count there first
    return max(0, min(state.affinity, int(state.others - outside + 0.5)))


def faster_threads(threads: int, state: CpuState) -> int | None:
    """A smaller thread count that would not compete with the busy cores, or None when `threads` fits."""
    free = max(1, state.affinity - busy_cores(state))
    return free if threads > free else None


def effective_threads(requested: int, state: CpuState | None = None) -> int:
    """`requested` (0 = `default_threads`), at most the available cores; warns when it bounds."""
    state = state or cpu_state()
    if requested <= 0:
        return default_threads(state)[0]
    if requested > state.affinity:
        log.warning("--threads %d is more than the %d cores available to this process: using %d", requested,
                    state.affinity, state.affinity)
        return state.affinity
    return requested


def busy_warning(threads: int, state: CpuState | None = None) -> str | None:
    """A warning when `threads` compete with other work for the job's cores (the CPU encoders' case), else None."""
    state = state or cpu_state()
    better = faster_threads(threads, state)
    if better is None:
        return None
    busy = busy_cores(state)
    if busy >= state.affinity:
        return (f"all {state.affinity} of this job's cores are busy with other processes: {threads} threads compete "
                f"with them; --threads 1 competes least (measured: 2.5x faster than 2 threads with 1 of 2 cores busy)")
    return (f"{busy} of this job's {state.affinity} cores are busy with other processes: {threads} threads compete "
            f"with them; --threads {better} is faster on a shared machine (measured: 2.5x with 1 of 2 cores busy)")


def available_cpus() -> int:
    """Cores this process may run on (CPU affinity where the OS has it)."""
    return cpu_state().affinity


def decompression_threads(threads: int) -> int:
    """Extra threads for an external (de)compressor; gzip/bz2 decoding gains nothing past a few."""
    return min(max(0, threads - 1), 4)


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(text) if text is not None else 0
    except ValueError:  # OMP_NUM_THREADS may be a list ("4,2") or junk: not ours to refuse
        return None
    return value if value > 0 else None
