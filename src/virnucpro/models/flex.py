"""FlexAttention for packed sequences: document mask + optional symmetric ALiBi score_mod.

Compiled on CUDA (the fused kernel); eager elsewhere (correct but unfused; used by CPU tests).
"""

from __future__ import annotations

import functools

import torch


@functools.lru_cache(maxsize=None)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def block_mask_for(seq_id: torch.Tensor):
    """BlockMask letting token i attend token j iff both belong to the same sequence."""
    from torch.nn.attention.flex_attention import create_block_mask

    T = len(seq_id)

    def same_doc(b, h, qi, ki):
        return seq_id[qi] == seq_id[ki]

    return create_block_mask(same_doc, None, None, T, T, device=seq_id.device)


def flex_packed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor, *,
                          scale: float, slopes: torch.Tensor | None, seq_id: torch.Tensor | None = None,
                          block_mask=None) -> torch.Tensor:
    """q, k, v: (T, H, D) -> (T, H, D); scores = q.k*scale - slope_h |i-j| within a sequence."""
    from torch.nn.attention.flex_attention import flex_attention

    T = q.shape[0]
    if seq_id is None:
        lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()
        seq_id = torch.repeat_interleave(torch.arange(len(lengths), device=q.device), lengths)
    if block_mask is None:
        block_mask = block_mask_for(seq_id)
    score_mod = None
    if slopes is not None:
        sl = slopes.to(device=q.device, dtype=torch.float32)

        def score_mod(score, b, h, qi, ki):
            return score - sl[h] * (qi - ki).abs()

    fn = _compiled_flex() if q.is_cuda else flex_attention
    qh, kh, vh = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))  # (1, H, T, D)
    out = fn(qh, kh, vh, score_mod=score_mod, block_mask=block_mask, scale=scale)  # (1, H, T, D)
    assert out.shape[2] == T
    return out[0].transpose(0, 1)  # (T, H, D)
