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
