"""Packed variable-length batches: one flat token tensor plus `cu_seqlens`, no padding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass
class PackedBatch:
    """Sequences laid end to end.

    tokens: (T,) int64 token ids.
    seq_id: (T,) int64 index of each token's sequence.
    pos: (T,) int64 position of each token inside its sequence (0 = first token).
    cu_seqlens: (N+1,) int32 cumulative lengths, cu_seqlens[0] = 0.
    lengths: (N,) int64 tokens per sequence.
    max_len: longest sequence (python int, kernels need it on the host).
    """

    tokens: torch.Tensor
    seq_id: torch.Tensor
    pos: torch.Tensor
    cu_seqlens: torch.Tensor
    lengths: torch.Tensor
    max_len: int

    @property
    def num_seqs(self) -> int:
        return len(self.lengths)

    @property
    def num_tokens(self) -> int:
        return len(self.tokens)

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "PackedBatch":
        mv = lambda t: t.to(device, non_blocking=non_blocking)  # noqa: E731
        return PackedBatch(mv(self.tokens), mv(self.seq_id), mv(self.pos), mv(self.cu_seqlens), mv(self.lengths),
                           self.max_len)

    def pin_memory(self) -> "PackedBatch":
        return PackedBatch(self.tokens.pin_memory(), self.seq_id.pin_memory(), self.pos.pin_memory(),
                           self.cu_seqlens.pin_memory(), self.lengths.pin_memory(), self.max_len)


PAD_PIECE = 128  # filler sequences are at most this long, so attention over them stays cheap


def pack(token_lists: Sequence[Sequence[int]], pad_to: int | None = None, pad_id: int = 0) -> PackedBatch:
    """Pack token id lists (each non-empty) into a PackedBatch on the CPU.

    With `pad_to`, filler sequences of `pad_id` (<= PAD_PIECE tokens each) are appended after the real
    ones until the batch holds exactly max(pad_to, T) tokens: every batch then has one shape, so
    compiled kernels never recompile. Real sequences keep indices 0..N-1; callers drop the rest.
    """
    lengths = [len(t) for t in token_lists]
    assert lengths and min(lengths) > 0, "every packed sequence needs at least one token"
    flat = [x for t in token_lists for x in t]
    extra = max(0, (pad_to or 0) - len(flat))
    lengths += [PAD_PIECE] * (extra // PAD_PIECE) + ([extra % PAD_PIECE] if extra % PAD_PIECE else [])
    flat += [pad_id] * extra
    return from_lengths(torch.tensor(flat, dtype=torch.int64), torch.tensor(lengths, dtype=torch.int64))


def from_lengths(tokens: torch.Tensor, lengths: torch.Tensor) -> PackedBatch:
    """Build the bookkeeping for `tokens` (T,) holding sequences of `lengths` (N,) back to back."""
    n = len(lengths)
    cu = torch.zeros(n + 1, dtype=torch.int32)
    cu[1:] = torch.cumsum(lengths, 0)
    seq_id = torch.repeat_interleave(torch.arange(n), lengths)  # (T,)
    pos = torch.arange(len(tokens)) - cu[:-1].long()[seq_id]  # (T,)
    return PackedBatch(tokens, seq_id, pos, cu, lengths.long(), int(lengths.max()) if n else 0)


def segment_mean(x: torch.Tensor, cu_seqlens: torch.Tensor, weight: torch.Tensor | None = None,
                 max_len: int | None = None) -> torch.Tensor:
    """Mean of rows of `x` (T, D) per packed sequence (`cu_seqlens` (N+1,)); `weight` (T,) bool selects rows.

    Deterministic on every device: each sequence's rows are gathered into a padded (N, L, D) block (zeros
    past its end or where `weight` is False) and summed along L by one fixed-order reduction with fp32
    accumulation, as the original's `torch.mean` of fp32 states. Not atomic adds (`index_add_` on CUDA
    adds in arrival order, so the last bit changed from run to run) and not a running sum over T (a
    column-wise scan is sequential in T: it was 44% of DNABERT-S's GPU time). Batches are length-sorted,
    so the padding is small. `max_len` (the longest sequence, a host int) avoids a device sync.

    Returns:
        (N, D) float32.
    """
    starts = cu_seqlens[:-1].long()  # (N,)
    lengths = cu_seqlens[1:].long() - starts  # (N,)
    width = max_len if max_len is not None else int(lengths.max())
    offsets = torch.arange(width, device=x.device)  # (L,)
    valid = offsets[None, :] < lengths[:, None]  # (N, L)
    rows = (starts[:, None] + offsets[None, :]).clamp_(max=x.shape[0] - 1)  # (N, L) row of x per slot
    if weight is not None:
        valid &= weight[rows]
    block = x[rows] * valid[..., None].to(x.dtype)  # (N, L, D): multiplying by 0/1 is exact
    sums = block.sum(1, dtype=torch.float32)  # (N, D)
    return sums / valid.sum(1, keepdim=True).to(torch.float32)
