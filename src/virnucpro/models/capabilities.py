"""What a device can do: the facts every GPU decision (kernel, compile, batch budget, FP8) is a pure function of.

`probe()` is the one place that asks torch about a device; every decision takes a `DeviceCaps`, so a CPU
test can hand it an H100's or H200's facts (`HOPPER_H100`, `HOPPER_H200`) and see what the GPU would do.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

GIB = 2**30
FP8_MIN_CAPABILITY = (8, 9)  # FP8 tensor cores: Ada (8.9), Hopper (9.0) and later


@dataclass(frozen=True)
class DeviceCaps:
    """A device's facts as the decisions read them."""

    type: str  # "cuda" | "cpu" (anything else decides as the CPU)
    name: str = ""
    capability: tuple[int, int] = (0, 0)  # CUDA compute capability; (0, 0) off CUDA
    free_bytes: int = 0  # free device memory when probed (0 off CUDA)
    varlen: bool = False  # torch ships the flash varlen kernel (torch.nn.attention.varlen, torch >= 2.10)

    @property
    def cuda(self) -> bool:
        return self.type == "cuda"


CPU = DeviceCaps("cpu")
HOPPER_H100 = DeviceCaps("cuda", "NVIDIA H100 80GB HBM3", (9, 0), 78 * GIB, True)
HOPPER_H200 = DeviceCaps("cuda", "NVIDIA H200", (9, 0), 138 * GIB, True)
AMPERE_A100 = DeviceCaps("cuda", "NVIDIA A100-SXM4-80GB", (8, 0), 78 * GIB, True)


def fp8_problem(caps: DeviceCaps, label: str = "") -> str | None:
    """Why the device cannot run the FP8 path (None when it can)."""
    if not caps.cuda:
        return f"{label or caps.type} has no FP8 tensor cores"
    if caps.capability < FP8_MIN_CAPABILITY:
        major, minor = caps.capability
        return (f"{caps.name} (compute capability {major}.{minor}) has no FP8 tensor cores (8.9+: Ada, Hopper, "
                "later)")
    return None


def probe(device) -> DeviceCaps:
    """The facts of `device` (a torch.device or a string like 'cuda:1'); free memory read now."""
    import torch

    dev = torch.device(device)
    if dev.type != "cuda":
        return CPU
    free, _total = torch.cuda.mem_get_info(dev)
    return DeviceCaps("cuda", torch.cuda.get_device_name(dev), tuple(torch.cuda.get_device_capability(dev)), free,
                      has_varlen())


@functools.lru_cache(maxsize=None)
def probe_static(device) -> DeviceCaps:
    """`probe` without the free memory (cached: the kernel choice asks once per batch)."""
    caps = probe(device)
    return DeviceCaps(caps.type, caps.name, caps.capability, 0, caps.varlen)


@functools.lru_cache(maxsize=None)
def has_varlen() -> bool:
    try:
        from torch.nn.attention import varlen  # noqa: F401  (torch >= 2.10)
    except ImportError:
        return False
    return True
