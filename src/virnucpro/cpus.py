"""How many CPU threads a run may use: `--threads`, bounded by the cores this process may run on.

The cores come from the scheduler's CPU affinity (what SLURM's `--cpus-per-task` grants), not from
the machine's total, so a job never oversubscribes its allocation.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("virnucpro")


def available_cpus() -> int:
    """Cores this process may run on (CPU affinity where the OS has it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)


def effective_threads(requested: int) -> int:
    """`requested` (0 = all available cores), at most the available cores; warns when it bounds."""
    cores = available_cpus()
    if requested <= 0:
        return cores
    if requested > cores:
        log.warning("--threads %d is more than the %d cores available to this process: using %d", requested, cores,
                    cores)
        return cores
    return requested


def decompression_threads(threads: int) -> int:
    """Extra threads for an external (de)compressor; gzip/bz2 decoding gains nothing past a few."""
    return min(max(0, threads - 1), 4)
