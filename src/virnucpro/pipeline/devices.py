"""Which devices a run uses: `--device auto|cpu|cuda|cuda:N` or a comma-separated list of them.

`auto` is every GPU torch sees (so CUDA_VISIBLE_DEVICES, as SLURM sets it, decides), else the CPU.
One worker runs per entry; an entry may repeat (two workers sharing a GPU, or `cpu,cpu`).
"""

from __future__ import annotations

import re

from virnucpro.errors import InputError

ENTRY = re.compile(r"^(cpu|cuda|cuda:\d+)$")


def parse_devices(text: str) -> list[str]:
    """The entries of a --device value, checked for form only (no torch import).

    Raises:
        ValueError: naming the bad entry (argparse turns it into a usage error).
    """
    if text == "auto":
        return ["auto"]
    entries = [e.strip() for e in text.split(",")]
    for e in entries:
        if not ENTRY.match(e):
            raise ValueError(f"{e!r} is not a device: use auto, cpu, cuda, cuda:N or a comma-separated list")
    kinds = {e.split(":")[0] for e in entries}
    if len(kinds) > 1:
        raise ValueError("a list mixes CPU and GPU devices, whose precision differs: list devices of one kind")
    return entries


def resolve_devices(entries: list[str]) -> list[str]:
    """Concrete devices: `auto` expanded, `cuda` = cuda:0, indices checked against what torch sees.

    Raises:
        InputError: a GPU was asked for that torch does not see.
    """
    import torch

    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if entries == ["auto"]:
        return [f"cuda:{i}" for i in range(n)] or ["cpu"]
    out = ["cuda:0" if e == "cuda" else e for e in entries]
    for e in out:
        if e.startswith("cuda") and int(e.split(":")[1]) >= n:
            raise InputError(f"--device {e} asked for a GPU but torch sees {n}: use --device cpu or an index below "
                             f"{n} (CUDA_VISIBLE_DEVICES renumbers the visible GPUs from 0)" if n else
                             f"--device {e} asked for a GPU but torch sees none: {no_gpu_reason()}")
    return out


def no_gpu_reason() -> str:
    """Why torch sees no GPU, and the fix: a CPU-only torch build, or no GPU/driver visible to a CUDA build."""
    import os

    import torch

    if not torch.version.cuda and not torch.version.hip:
        return (f"the installed torch {torch.__version__} is a CPU-only build: use --device cpu, or install a CUDA "
                "build of torch on a GPU node")
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES")
    where = f" (CUDA_VISIBLE_DEVICES={hidden!r})" if hidden is not None else ""
    return (f"torch {torch.__version__} is a CUDA build, but no GPU or driver is visible{where}: run on a GPU node "
            "(check `nvidia-smi`), or use --device cpu")


def resolve_precision(precision: str, device: str) -> str:
    """`auto` -> fp16 on CUDA, fp32 elsewhere; any other value as given."""
    if precision != "auto":
        return precision
    return "fp16" if device.startswith("cuda") else "fp32"


def check_fp8(devices: list[str], what: str = "--precision fp8", fix: str = "drop --precision fp8, or run on such "
              "a GPU") -> None:
    """Raises InputError naming the first device that cannot run the FP8 path (`what` needs it; `fix` is the way out)."""
    from virnucpro.models.fp8 import fp8_problem

    for d in devices:
        if (problem := fp8_problem(d)) is not None:
            raise InputError(f"{what} needs FP8 tensor cores, but {problem}: {fix}")
