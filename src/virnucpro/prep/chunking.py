"""The original's overlapping chunk rule, in closed form and vectorised over sequences.

For a sequence of length L and chunk size cs: n = ceil(L/cs), R = n*cs - L, q = R // n,
k = R - q*(n-1); chunk i starts at i*(cs - q) - min(i, k) and is clipped at L. When k > n-1 the
last chunk is shorter than cs: a quirk of the original, kept because the classifier saw it.
"""

from __future__ import annotations

import numpy as np


def chunk_bounds(lengths: np.ndarray, cs: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chunk boundaries for many sequences at once.

    Args:
        lengths: (n_seqs,) int sequence lengths, all > 0.
        cs: chunk size, > 0.

    Returns:
        (seq_index, start, end): each (n_chunks,) int64, in sequence then chunk order; the chunk
        number inside its sequence is `arange - first index of that sequence`.
    """
    assert cs > 0, cs
    L = np.asarray(lengths, dtype=np.int64)  # (S,)
    n = -(-L // cs)  # (S,) chunks per sequence
    R = n * cs - L
    q = R // n
    k = R - q * (n - 1)
    seq_index = np.repeat(np.arange(len(L)), n)  # (C,)
    first = np.cumsum(n) - n  # (S,) index of each sequence's first chunk
    i = np.arange(len(seq_index)) - first[seq_index]  # (C,) chunk number within sequence
    start = i * (cs - q[seq_index]) - np.minimum(i, k[seq_index])
    end = np.minimum(start + cs, L[seq_index])
    return seq_index, start, end


def chunk_numbers(seq_index: np.ndarray) -> np.ndarray:
    """1-based chunk number of each chunk inside its sequence (for `{id}_chunk_{k}`)."""
    if len(seq_index) == 0:
        return seq_index.copy()
    new = np.r_[True, seq_index[1:] != seq_index[:-1]]  # (C,) first chunk of a sequence
    first = np.maximum.accumulate(np.where(new, np.arange(len(seq_index)), 0))
    return np.arange(len(seq_index)) - first + 1
