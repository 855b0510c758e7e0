"""The one place that chooses an attention kernel for packed sequences.

All paths take q, k, v of shape (T, H, D) for sequences packed back to back (`cu_seqlens`), attend
only within a sequence, and optionally add a symmetric ALiBi bias -slope_h * |i - j| (DNABERT).

* `reference`: plain per-sequence math in fp32 (the specification; CPU tests compare against it).
* `sdpa`: length-bucket padding + `F.scaled_dot_product_attention` with a float mask (any device,
  any dtype; the CPU default).
* `varlen`: `torch.nn.attention.varlen.varlen_attn` (flash, CUDA fp16/bf16, no bias) for ESM-2.
* `flex`: compiled FlexAttention with a document mask and an ALiBi score_mod (CUDA) for DNABERT.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "reference", "sdpa", "varlen", "flex")


def alibi_slopes(num_heads: int) -> list[float]:
    """DNABERT/MosaicBERT ALiBi slopes; non-powers of two take every other slope of the next power."""

    def power_of_2(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]

    if math.log2(num_heads).is_integer():
        return power_of_2(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_2(closest) + power_of_2(2 * closest)[0::2][: num_heads - closest]


def choose_backend(requested: str, q: torch.Tensor, has_bias: bool) -> str:
    """Resolve 'auto' to a concrete kernel for this device, dtype and bias."""
    assert requested in BACKENDS, requested
    if requested != "auto":
        return requested
    fast_dtype = q.dtype in (torch.float16, torch.bfloat16)
    if q.is_cuda and fast_dtype:
        return "flex" if has_bias else ("varlen" if _has_varlen() else "flex")
    return "sdpa"


@functools.lru_cache(maxsize=None)
def _has_varlen() -> bool:
    try:
        from torch.nn.attention import varlen  # noqa: F401  (torch >= 2.10)
    except ImportError:
        return False
    return True


def packed_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor, max_len: int,
                     *, scale: float, slopes: torch.Tensor | None = None, backend: str = "auto",
                     seq_id: torch.Tensor | None = None) -> torch.Tensor:
    """Attention within each packed sequence.

    Args:
        q, k, v: (T, H, D).
        cu_seqlens: (N+1,) int32 sequence boundaries.
        max_len: longest sequence.
        scale: multiplier of q.k (the ALiBi bias is added after scaling).
        slopes: (H,) fp32 ALiBi slopes, or None for no bias.
        backend: one of BACKENDS.
        seq_id: (T,) sequence index per token (used by `flex`; derived if None).
    Returns:
        (T, H, D) in q's dtype.
    """
    kind = choose_backend(backend, q, slopes is not None)
    if kind == "reference":
        return reference_attention(q, k, v, cu_seqlens, scale=scale, slopes=slopes)
    if kind == "sdpa":
        return _sdpa_padded(q, k, v, cu_seqlens, max_len, scale, slopes)
    if kind == "varlen":
        assert slopes is None, "varlen_attn has no bias input; use flex for ALiBi"
        from torch.nn.attention.varlen import varlen_attn

        return varlen_attn(q, k, v, cu_seqlens, cu_seqlens, max_len, max_len, scale=scale)
    from virnucpro.models.flex import flex_packed_attention

    return flex_packed_attention(q, k, v, cu_seqlens, scale=scale, slopes=slopes, seq_id=seq_id)


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor, *,
                        scale: float, slopes: torch.Tensor | None = None) -> torch.Tensor:
    """Plain per-sequence attention, math in fp32: softmax(q k^T * scale - slope |i-j|) v."""
    out = torch.empty_like(q)
    bounds = cu_seqlens.tolist()
    for a, b in zip(bounds[:-1], bounds[1:]):
        qs, ks, vs = (t[a:b].float().transpose(0, 1) for t in (q, k, v))  # (H, L, D)
        scores = qs @ ks.transpose(1, 2) * scale  # (H, L, L)
        if slopes is not None:
            scores = scores + alibi_bias(slopes.float(), b - a, q.device)
        out[a:b] = (scores.softmax(-1) @ vs).transpose(0, 1).to(q.dtype)
    return out


def alibi_bias(slopes: torch.Tensor, length: int, device: torch.device) -> torch.Tensor:
    """(H, L, L) fp32 bias -slope_h * |i - j|."""
    idx = torch.arange(length, device=device)
    dist = (idx[None, :] - idx[:, None]).abs().float()  # (L, L)
    return -slopes.to(device)[:, None, None] * dist


def _sdpa_padded(q, k, v, cu_seqlens, max_len, scale, slopes):
    """Pad to (N, H, Lmax, D), run SDPA with a float key-padding (+ALiBi) mask, unpad."""
    n = len(cu_seqlens) - 1
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()  # (N,)
    T, H, D = q.shape
    seq_id = torch.repeat_interleave(torch.arange(n, device=q.device), lengths)  # (T,)
    pos = torch.arange(T, device=q.device) - cu_seqlens[:-1].long()[seq_id]
    pad = lambda t: t.new_zeros(n, max_len, H, D).index_put_((seq_id, pos), t).transpose(1, 2)  # noqa: E731
    qp, kp, vp = pad(q), pad(k), pad(v)  # (N, H, L, D)
    key_ok = torch.arange(max_len, device=q.device)[None, :] < lengths[:, None]  # (N, L)
    mask = torch.zeros(n, 1, 1, max_len, device=q.device, dtype=torch.float32)
    mask = mask.masked_fill(~key_ok[:, None, None, :], float("-inf"))
    if slopes is not None:
        mask = mask + alibi_bias(slopes.float(), max_len, q.device)[None]  # (N, H, L, L)
    o = F.scaled_dot_product_attention(qp, kp, vp, attn_mask=mask.to(q.dtype), scale=scale)  # (N, H, L, D)
    return o.transpose(1, 2)[seq_id, pos]  # (T, H, D)
