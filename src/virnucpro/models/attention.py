"""The one place that chooses an attention kernel for packed sequences.

All paths take q, k, v of shape (T, H, D) for sequences packed back to back (`cu_seqlens`), attend
only within a sequence, and optionally add a symmetric ALiBi bias -slope_h * |i - j| (DNABERT).

* `reference`: plain per-sequence math in fp32 (the specification; CPU tests compare against it).
* `sdpa`: length-bucket padding + `F.scaled_dot_product_attention` with a float mask (any device,
  any dtype; the CPU default).
* `varlen`: `torch.nn.attention.varlen.varlen_attn` (flash, CUDA fp16/bf16, no bias) for ESM-2.
* `flex`: compiled FlexAttention with a document mask and an ALiBi score_mod (CUDA) for DNABERT.

It also chooses the kernel of ESM-2's linear layers (`choose_linear`): plain, or FP8 tensor cores.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from virnucpro.models.capabilities import DeviceCaps, probe_static

BACKENDS = ("auto", "reference", "sdpa", "varlen", "flex")
LINEAR_KINDS = ("plain", "fp8", "fp8_reference")


def choose_linear(kind: str):
    """The matrix-product kernel of ESM-2's linear layers, called as `linear(x, *weights)`.

    * `plain`: `F.linear(x, weight, bias)` in the model's dtype (the default, every precision).
    * `fp8`: FP8 tensor-core GEMM, rowwise scales (`--precision fp8`; see models/fp8.py).
    * `fp8_reference`: the same quantisation with fp32 products (the specification; CPU tests).
    """
    assert kind in LINEAR_KINDS, kind
    if kind == "plain":
        return F.linear
    from virnucpro.models import fp8

    return fp8.mixed_linear if kind == "fp8" else fp8.mixed_reference  # a layer's unquantised linears stay plain


def alibi_slopes(num_heads: int) -> list[float]:
    """DNABERT/MosaicBERT ALiBi slopes; non-powers of two take every other slope of the next power."""

    def power_of_2(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]

    if math.log2(num_heads).is_integer():
        return power_of_2(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_2(closest) + power_of_2(2 * closest)[0::2][: num_heads - closest]


def choose_backend(requested: str, q: torch.Tensor, has_bias: bool, caps: DeviceCaps | None = None) -> str:
    """Resolve 'auto' to a concrete kernel for this device, dtype and bias; a kernel that cannot run this
    model (e.g. a head dimension below the fused kernels' minimum) gives way to the next one that can
    (SDPA, which runs everything), said once in the log.

    Args:
        q: (T, H, Dh) queries, or a tensor of that shape and dtype (a view or a meta tensor): the head
            dimension is read from its LAST axis, so never pass the (T, H * Dh) hidden states.
        caps: the device's facts; probed from q's device when None (tests pass an H100's or H200's).
    """
    assert requested in BACKENDS, requested
    assert q.dim() == 3, f"q must be (tokens, heads, head_dim), got shape {tuple(q.shape)}"
    caps = caps if caps is not None else probe_static(q.device)
    kind = requested if requested != "auto" else _fastest(q, has_bias, caps)
    problem = unsupported(kind, q, has_bias, caps)
    if problem is None:
        return kind
    _say_once(f"attention: {kind} cannot run this model ({problem}); using sdpa")
    return "sdpa"


def _fastest(q: torch.Tensor, has_bias: bool, caps: DeviceCaps) -> str:
    if caps.cuda and q.dtype in (torch.float16, torch.bfloat16):
        return "flex" if has_bias else ("varlen" if caps.varlen else "flex")
    return "sdpa"


def unsupported(kind: str, q: torch.Tensor, has_bias: bool, caps: DeviceCaps | None = None) -> str | None:
    """Why kernel `kind` cannot run q (T, H, Dh) on `caps`' device, or None if it can."""
    caps = caps if caps is not None else probe_static(q.device)
    head_dim = q.shape[-1]
    if kind == "flex" and (head_dim < 16 or head_dim & (head_dim - 1)):
        return f"head dimension {head_dim}; FlexAttention needs a power of two >= 16"
    if kind == "varlen":
        if has_bias:
            return "an attention bias; varlen_attn has no bias input"
        if not (caps.cuda and caps.varlen and q.dtype in (torch.float16, torch.bfloat16)):
            return "varlen_attn needs fp16/bf16 on CUDA (torch >= 2.10)"
        if head_dim % 8 or not 8 <= head_dim <= 256:
            return f"head dimension {head_dim}; varlen_attn needs a multiple of 8 up to 256"
    return None


_said: set[str] = set()


def _say_once(message: str) -> None:
    if message not in _said:
        _said.add(message)
        import logging

        logging.getLogger("virnucpro").info(message)


class AttentionPlan:
    """Per-batch work shared by every layer (masks, padding indices, block masks): built once per batch."""

    def __init__(self, kind: str, cu_seqlens: torch.Tensor, max_len: int, seq_id: torch.Tensor | None,
                 slopes: torch.Tensor | None, dtype: torch.dtype, pad_to: int | None = None) -> None:
        self.kind, self.cu_seqlens, self.max_len, self.slopes = kind, cu_seqlens, max_len, slopes
        self.seq_id = seq_id if seq_id is not None else _seq_ids(cu_seqlens)
        self.sdpa = _sdpa_layout(cu_seqlens, max_len, self.seq_id, slopes, dtype) if kind == "sdpa" else None
        self.flex = None
        if kind == "flex":
            from virnucpro.models.flex import flex_plan

            self.flex = flex_plan(self.seq_id, pad_to)


def plan_attention(q_like: torch.Tensor, cu_seqlens: torch.Tensor, max_len: int, *, slopes: torch.Tensor | None = None,
                   backend: str = "auto", seq_id: torch.Tensor | None = None, pad_to: int | None = None) -> AttentionPlan:
    """Choose the kernel for this batch and precompute what all layers share."""
    kind = choose_backend(backend, q_like, slopes is not None)
    return AttentionPlan(kind, cu_seqlens, max_len, seq_id, slopes, q_like.dtype, pad_to)


def _seq_ids(cu_seqlens: torch.Tensor) -> torch.Tensor:
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()
    return torch.repeat_interleave(torch.arange(len(lengths), device=cu_seqlens.device), lengths)


def run_planned(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plan: AttentionPlan, scale: float) -> torch.Tensor:
    """Attention for one layer with a batch's precomputed plan. q, k, v (T, H, D) -> (T, H, D)."""
    if plan.kind == "reference":
        return reference_attention(q, k, v, plan.cu_seqlens, scale=scale, slopes=plan.slopes)
    if plan.kind == "sdpa":
        return _sdpa_run(q, k, v, plan.sdpa, scale)
    if plan.kind == "varlen":
        assert plan.slopes is None, "varlen_attn has no bias input; use flex for ALiBi"
        from torch.nn.attention.varlen import varlen_attn

        return varlen_attn(q, k, v, plan.cu_seqlens, plan.cu_seqlens, plan.max_len, plan.max_len, scale=scale)
    from virnucpro.models.flex import flex_run

    return flex_run(q, k, v, plan.flex, scale=scale, slopes=plan.slopes)


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
    plan = plan_attention(q, cu_seqlens, max_len, slopes=slopes, backend=backend, seq_id=seq_id)
    return run_planned(q, k, v, plan, scale)


def reference_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cu_seqlens: torch.Tensor, *,
                        scale: float, slopes: torch.Tensor | None = None) -> torch.Tensor:
    """Plain per-sequence attention, math in fp32: softmax(q k^T * scale - slope |i-j|) v."""
    out = torch.empty_like(q)
    bounds = cu_seqlens.tolist()
    for a, b in zip(bounds[:-1], bounds[1:]):
        _check_cpu_room(4 * q.shape[1] * (b - a) ** 2 * 3, q.device, "reference attention scores")  # (H, L, L) x3
        qs, ks, vs = (t[a:b].float().transpose(0, 1) for t in (q, k, v))  # (H, L, D)
        scores = qs @ ks.transpose(1, 2) * scale  # (H, L, L)
        if slopes is not None:
            scores = scores + alibi_bias(slopes.float(), b - a, q.device)
        out[a:b] = (scores.softmax(-1) @ vs).transpose(0, 1).to(q.dtype)
    return out


def _check_cpu_room(nbytes: int, device: torch.device, what: str) -> None:
    """On the CPU, refuse an allocation larger than free memory before asking for it (the CPU has no clean
    out-of-memory: the kernel kills the process); raises torch.OutOfMemoryError like a GPU would."""
    if device.type == "cpu":
        from virnucpro.engine.memory import check_host_room

        check_host_room(nbytes, what)


def alibi_bias(slopes: torch.Tensor, length: int, device: torch.device) -> torch.Tensor:
    """(H, L, L) fp32 bias -slope_h * |i - j|."""
    idx = torch.arange(length, device=device)
    dist = (idx[None, :] - idx[:, None]).abs().float()  # (L, L)
    return -slopes.to(device)[:, None, None] * dist


def _sdpa_layout(cu_seqlens, max_len, seq_id, slopes, dtype) -> dict:
    """Padding indices and the float mask (key padding, + ALiBi) for SDPA on (N, H, Lmax, D)."""
    n = len(cu_seqlens) - 1
    lengths = (cu_seqlens[1:] - cu_seqlens[:-1]).long()  # (N,)
    dev = cu_seqlens.device
    pos = torch.arange(len(seq_id), device=dev) - cu_seqlens[:-1].long()[seq_id]  # (T,)
    key_ok = torch.arange(max_len, device=dev)[None, :] < lengths[:, None]  # (N, L)
    mask = torch.zeros(n, 1, 1, max_len, device=dev, dtype=torch.float32)
    mask = mask.masked_fill(~key_ok[:, None, None, :], float("-inf"))
    if slopes is not None:
        _check_cpu_room(4 * len(slopes) * max_len * max_len * (n + 1) + 16 * max_len * max_len, dev,
                        "the attention bias")  # built whole: (N, H, L, L) fp32, plus its (H, L, L) part
        mask = mask + alibi_bias(slopes.float(), max_len, dev)[None]  # (N, H, L, L)
    return {"n": n, "max_len": max_len, "seq_id": seq_id, "pos": pos, "mask": mask.to(dtype)}


def _sdpa_run(q, k, v, lay: dict, scale: float) -> torch.Tensor:
    """Pad to (N, H, Lmax, D), run SDPA with the plan's mask, unpad."""
    T, H, D = q.shape
    n, L, seq_id, pos = lay["n"], lay["max_len"], lay["seq_id"], lay["pos"]
    pad = lambda t: t.new_zeros(n, L, H, D).index_put_((seq_id, pos), t).transpose(1, 2)  # noqa: E731
    o = F.scaled_dot_product_attention(pad(q), pad(k), pad(v), attn_mask=lay["mask"], scale=scale)  # (N, H, L, D)
    return o.transpose(1, 2)[seq_id, pos]  # (T, H, D)
