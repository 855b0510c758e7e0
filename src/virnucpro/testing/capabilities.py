"""What a device can do, in words, for the self-test's header: kernels, compilation, FP8, threads.

Every answer comes from the functions the runs themselves call (`engine.device_plan.plan_engine`,
`models.fp8.fp8_problem`, `cpus`), asked about the full-size models' shapes, so the header says what a
real run on this device would use.
"""

from __future__ import annotations

import platform

import torch



def versions() -> str:
    """`virnucpro X (commit C), torch T (CUDA c), Python P`."""
    from virnucpro.cli import version_string

    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
    return f"{version_string()}, torch {torch.__version__} ({cuda}), Python {platform.python_version()}"


def describe(device: str) -> list[str]:
    """Lines naming `device` and what it can do."""
    if device.startswith("cuda"):
        return [_gpu_name(device), f"attention kernels: {attention_kernels(device)}", f"compile: {compile_support()}",
                f"FP8: {fp8_support(device)}"]
    return [f"{device} ({platform.machine()}): {cpu_threads_line()}", f"attention kernels: {attention_kernels(device)}",
            "compile: off on the CPU (the default; --compile on to try it)", f"FP8: {fp8_support(device)}"]


def attention_kernels(device: str) -> str:
    """The kernel each encoder's attention uses on `device` for a full-size run at the precision it would pick
    (engine/device_plan.plan_engine, as the workers call it)."""
    from virnucpro.engine.device_plan import plan_engine
    from virnucpro.models.capabilities import probe
    from virnucpro.models.dnabert import DNABERT_S
    from virnucpro.models.esm2 import PRESETS
    from virnucpro.pipeline.devices import resolve_precision

    precision = resolve_precision("auto", device)
    plan = plan_engine(probe(device), PRESETS["esm2_t36_3B_UR50D"], DNABERT_S, precision)
    fused = {"varlen": "fused (flash varlen)", "flex": "fused (FlexAttention)", "sdpa": "SDPA, not fused"}
    return (f"ESM-2 {plan.esm_attention}, {fused[plan.esm_attention]}; DNABERT-S {plan.dnabert_attention}, "
            f"{fused[plan.dnabert_attention]} ({precision})")


def compile_support() -> str:
    """Whether torch.compile can build GPU kernels here (it needs Triton)."""
    try:
        import triton
    except ImportError:
        return "no: Triton is not installed (runs stay correct, uncompiled)"
    return f"yes (Triton {triton.__version__}; on by default for CUDA)"


def fp8_support(device: str) -> str:
    from virnucpro.models.fp8 import fp8_problem

    problem = fp8_problem(device)
    return "yes (--precision fp8)" if problem is None else f"no ({problem})"


def cpu_threads_line() -> str:
    """`2 threads by default (the cores this job may use; 2 of 2 cores, 1 busy with other processes)`."""
    from virnucpro.cpus import busy_cores, cpu_state, default_threads

    state = cpu_state()
    threads, source = default_threads(state)
    busy = busy_cores(state)
    return f"{threads} threads by default ({source}; {state.affinity} of {state.total} cores" + (
        f", {busy} busy with other processes)" if busy else ")")


def _gpu_name(device: str) -> str:
    props = torch.cuda.get_device_properties(torch.device(device))
    return (f"{device}: {props.name}, compute capability {props.major}.{props.minor}, "
            f"{props.total_memory / 2**30:.0f} GiB")
