"""FP8 (e4m3) matrix products for ESM-2's four linear layers (`--precision fp8`, opt-in).

Weights are quantised once, at load time, with one scale per output channel; activations at run
time with one scale per token (row). The product runs on FP8 tensor cores with fp32 accumulation
(`torch._scaled_mm`, rowwise scales; its kernel writes bf16, cast back to the residual stream's
fp16). LayerNorm, softmax, attention, residuals and pooling stay in fp16/fp32. The reference path
does the same quantisation and multiplies the dequantised values in fp32: the specification the
tensor-core path is tested against (and what CPU tests run).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

E4M3 = torch.float8_e4m3fn
E4M3_MAX = 448.0  # largest finite e4m3 value
LINEARS = ("qkv", "out_proj", "fc1", "fc2")  # ESMLayer's nn.Linear members


def fp8_problem(device: str) -> str | None:
    """Why `device` cannot run the FP8 path (None when it can): capabilities.fp8_problem of its facts."""
    from virnucpro.models.capabilities import fp8_problem as problem_of, probe_static

    return problem_of(probe_static(device), device)


def quantize_weight(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """w (N, K) -> (e4m3 (N, K), fp32 scale (1, N)): each output channel scaled to the e4m3 range."""
    w32 = w.float()
    scale = (w32.abs().amax(dim=1) / E4M3_MAX).clamp(min=1e-12)  # (N,)
    return (w32 / scale[:, None]).clamp(-E4M3_MAX, E4M3_MAX).to(E4M3), scale[None, :]


def quantize_rows(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (M, K) -> (e4m3 (M, K), fp32 scale (M, 1)): each token scaled to the e4m3 range."""
    x32 = x.float()
    scale = (x32.abs().amax(dim=1, keepdim=True) / E4M3_MAX).clamp(min=1e-12)  # (M, 1)
    return (x32 / scale).clamp(-E4M3_MAX, E4M3_MAX).to(E4M3), scale


def scaled_linear(x: torch.Tensor, wq: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x (..., K) @ dequant(wq (N, K)).T + bias (N,) on FP8 tensor cores; result in x's dtype."""
    lead, k = x.shape[:-1], x.shape[-1]
    xq, x_scale = quantize_rows(x.reshape(-1, k))
    out = torch._scaled_mm(xq, wq.t(), scale_a=x_scale, scale_b=w_scale, bias=bias, out_dtype=torch.bfloat16)
    return out.to(x.dtype).reshape(*lead, wq.shape[0])  # (..., N)


def mixed_linear(x: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    """`linear(x, *weights)` of a layer whose linears may be partly quantised: (weight, bias) runs as
    F.linear, (wq, scale, bias) on FP8 tensor cores (decided while tracing: no cost at run time)."""
    return F.linear(x, *weights) if len(weights) == 2 else scaled_linear(x, *weights)


def mixed_reference(x: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    """`mixed_linear` with the reference FP8 product."""
    return F.linear(x, *weights) if len(weights) == 2 else reference_linear(x, *weights)


def reference_linear(x: torch.Tensor, wq: torch.Tensor, w_scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The same quantisation as `scaled_linear`, the product in fp32 (then rounded to bf16 as the kernel does)."""
    lead, k = x.shape[:-1], x.shape[-1]
    xq, x_scale = quantize_rows(x.reshape(-1, k))
    out = (xq.float() * x_scale) @ (wq.float() * w_scale.t()).t() + bias.float()  # (M, N) fp32
    return out.to(torch.bfloat16).to(x.dtype).reshape(*lead, wq.shape[0])


def quantize_esm(esm: torch.nn.Module, names: tuple[str, ...] = LINEARS) -> None:
    """Give every ESM-2 layer FP8 copies of the linear weights `names`, `layer.fp8[name] = (wq, scale, bf16 bias)`.

    The fp16 weights stay, so the layer can switch between the paths (`check-precision` compares them).
    """
    for layer in esm.layers:
        layer.fp8 = {}
        for name in names:
            lin = getattr(layer, name)
            wq, scale = quantize_weight(lin.weight.detach())
            layer.fp8[name] = (wq, scale, lin.bias.detach().to(torch.bfloat16))
