"""Length-sorted, token-budget packing of sequences into packed batches (pure bookkeeping)."""

from __future__ import annotations


def token_budget_batches(lengths: list[int], max_tokens: int, max_seqs: int | None = None) -> list[list[int]]:
    """Group sequence indices into batches of at most `max_tokens` packed tokens (longest first).

    Sorting by length keeps similar lengths together (good for attention kernels and shape buckets);
    a sequence longer than the budget gets a batch of its own.
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    used = 0
    for i in order:
        n = lengths[i]
        if cur and (used + n > max_tokens or (max_seqs is not None and len(cur) >= max_seqs)):
            batches.append(cur)
            cur, used = [], 0
        cur.append(i)
        used += n
    if cur:
        batches.append(cur)
    return batches


def shape_bucket(tokens: int, budget: int, levels: int = 4) -> int:
    """Padded size of a batch holding `tokens`: the smallest of budget, budget/2, ... budget/2^(levels-1)
    that fits (a few fixed shapes, so compiled kernels never recompile while a partly filled last batch
    does not pay for a whole budget); a batch over budget (one long sequence) keeps its own size."""
    size = budget
    for _ in range(levels - 1):
        if tokens > size // 2:
            break
        size //= 2
    return max(size, tokens)
