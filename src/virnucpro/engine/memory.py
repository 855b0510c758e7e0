"""Host-memory hygiene for long runs with tensors of ever-changing shapes."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc mallopt parameters


def limit_heap_fragmentation(threshold: int = 1 << 18) -> bool:
    """Serve allocations >= `threshold` bytes with mmap (returned to the OS on free) on glibc.

    glibc otherwise raises its mmap threshold after the first large frees, and variable-shape
    activations then fragment the heap so that peak RSS creeps up with the number of batches.
    Returns whether the setting was applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:  # capability probe: musl or other libcs have no mallopt
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, threshold)) and bool(libc.mallopt(M_TRIM_THRESHOLD, threshold))
    except (OSError, AttributeError):
        return False


def available_host_bytes() -> int | None:
    """Memory this process can still get: MemAvailable, capped by a cgroup (v2) limit; None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        return None
    try:
        with open("/sys/fs/cgroup/memory.max") as fh, open("/sys/fs/cgroup/memory.current") as cur:
            limit = fh.read().strip()
            if limit != "max" and avail is not None:
                avail = min(avail, int(limit) - int(cur.read().strip()))
    except (OSError, ValueError):
        pass
    return avail


def check_host_room(need: int, what: str) -> None:
    """Refuse a host allocation of `need` bytes that cannot fit (the kernel would kill the process instead).

    Raises:
        torch.OutOfMemoryError: the same error a device allocator raises, so callers split or stop alike.
    """
    avail = available_host_bytes()
    if avail is not None and need > avail:
        import torch

        raise torch.OutOfMemoryError(f"{what} needs {need / 2**30:.1f} GiB of host memory but only "
                                     f"{max(avail, 0) / 2**30:.1f} GiB are available")
