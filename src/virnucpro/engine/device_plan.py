"""What the engine will do on a device: kernels, compile, batch budgets, linear kind, as one pure function.

`plan_engine(caps, ...)` reads only the device's facts (`DeviceCaps`), the two encoders' configurations,
the precision and the user's flags: the worker calls it with the probed device, and CPU tests call it
with an H100's or H200's facts and the full-size ESM-2 3B / DNABERT-S configurations, so the GPU's
choices are guarded by a test that runs without one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from virnucpro.models.capabilities import GIB, DeviceCaps

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp8": torch.float16}
ESM_TOKENS_CPU, DNABERT_TOKENS_CPU = 4096, 16384
ESM_TOKENS_MAX, ESM_TOKENS_MIN = 65536, 4096
RESERVED_GIB = 10  # weights of both encoders in fp16 (~6 GB) plus the allocator's slack
ESM_TOKENS_PER_GIB = 1500  # ~0.6 MiB of activations per ESM-3B token in fp16


@dataclass(frozen=True)
class EnginePlan:
    """Every device-dependent choice of one worker's engine."""

    dtype: torch.dtype
    esm_attention: str  # the kernel ESM-2's attention runs on: varlen | flex | sdpa | reference
    dnabert_attention: str
    compile: bool  # torch.compile the per-token blocks
    esm_batch_tokens: int
    dnabert_batch_tokens: int
    esm_linear: str  # plain | fp8

    def describe(self) -> str:
        return (f"ESM-2 attention {self.esm_attention}, DNABERT-S attention {self.dnabert_attention}, "
                f"compile {'on' if self.compile else 'off'}, batch tokens {self.esm_batch_tokens:,} / "
                f"{self.dnabert_batch_tokens:,}, linears {self.esm_linear}, {str(self.dtype).removeprefix('torch.')}")


def batch_tokens(caps: DeviceCaps) -> tuple[int, int]:
    """(ESM-2, DNABERT-S) packed tokens per batch: from free GPU memory on CUDA, small on the CPU."""
    if not caps.cuda:
        return ESM_TOKENS_CPU, DNABERT_TOKENS_CPU
    gib = caps.free_bytes / GIB
    esm = int(min(ESM_TOKENS_MAX, max(ESM_TOKENS_MIN, (gib - RESERVED_GIB) * ESM_TOKENS_PER_GIB)))
    return esm, 4 * esm


COMPILE_MIN_FRAMES = 50_000  # about 30 s of GPU work: below it, compiling costs more than it saves


def compile_on(requested: str, caps: DeviceCaps, frames: int | None = None) -> bool:
    """--compile on/off as given; auto compiles on CUDA for runs of at least COMPILE_MIN_FRAMES frames (or of an
    unknown size). Compiled per-token blocks make ESM-2 ~20% faster, but compiling takes seconds even when the
    kernels come from the cache, which a small run (a 20-read sample) never earns back; on the CPU compiling
    costs more than it saves."""
    assert requested in ("auto", "on", "off"), requested
    if requested != "auto":
        return requested == "on"
    return caps.cuda and (frames is None or frames >= COMPILE_MIN_FRAMES)


def plan_engine(caps: DeviceCaps, esm_cfg, dnabert_cfg, precision: str, *, attention: str = "auto",
                compile: str = "auto", esm_batch_tokens: int = 0, dnabert_batch_tokens: int = 0,
                frames: int | None = None) -> EnginePlan:
    """The engine's choices for encoders `esm_cfg` (ESM2Config) and `dnabert_cfg` (DnaBertConfig) on `caps`, for a
    run of `frames` frames (None: unknown)."""
    from virnucpro.models import dnabert, esm2

    dtype = DTYPES[precision]
    small = frames is not None and frames < COMPILE_MIN_FRAMES
    # FlexAttention is a compiled kernel (seconds to build, even from the cache): a small run's DNABERT-S, a few
    # hundred milliseconds of work, takes SDPA instead
    dna_requested = "sdpa" if attention == "auto" and small and caps.cuda else attention
    esm_tokens, dna_tokens = batch_tokens(caps)
    esm_x = torch.empty(1, esm_cfg.embed_dim, dtype=dtype, device="meta")  # (T, D): only shape and dtype matter
    dna_x = torch.empty(1, dnabert_cfg.hidden_size, dtype=dtype, device="meta")
    return EnginePlan(dtype=dtype,
                      esm_attention=esm2.attention_kernel(esm_cfg, esm_x, attention, caps),
                      dnabert_attention=dnabert.attention_kernel(dnabert_cfg, dna_x, dna_requested, caps),
                      compile=compile_on(compile, caps, frames),
                      esm_batch_tokens=esm_batch_tokens or esm_tokens,
                      dnabert_batch_tokens=dnabert_batch_tokens or dna_tokens,
                      esm_linear="fp8" if precision == "fp8" else "plain")
