"""The build a run's bits depend on, recorded as run_info.json's `build` and compared by resume and merge.

A score's last bits change with the code that computes it: the virnucpro version (the pipeline, the chunk and
region rules), the torch version (kernels and their summation order, also on the CPU: 2.13 and 2.14 may differ),
and the device's arithmetic: for GPU runs the CUDA and cuDNN builds and the GPU model with its compute capability,
for CPU runs the vector instruction set torch dispatches to (AVX2 and AVX-512 kernels sum in other orders). The
precision and CPU thread count are run parameters already. What does not change bits is left out: Python, numpy
(it only formats and compares the float32 scores), the driver, the host name.
"""

from __future__ import annotations

BUILD_FIELDS = ("virnucpro", "torch", "cuda", "cudnn", "device")  # in the order a difference is named


def build_record(devices: list[str]) -> dict[str, str]:
    """This process's build for a run on `devices` (resolved: 'cpu' or 'cuda:N', one kind)."""
    import torch

    from virnucpro import __version__

    record = {"virnucpro": __version__, "torch": torch.__version__}
    if devices and devices[0].startswith("cuda"):
        record["cuda"] = str(torch.version.cuda)
        record["cudnn"] = str(torch.backends.cudnn.version())
        record["device"] = ", ".join(sorted({_gpu(int(d.split(":")[1])) for d in devices}))
    else:
        record["device"] = f"cpu ({torch.backends.cpu.get_cpu_capability()})"
    return record


def _gpu(index: int) -> str:
    import torch

    major, minor = torch.cuda.get_device_capability(index)
    return f"{torch.cuda.get_device_name(index)} (sm_{major}{minor})"


def build_difference(then: dict | None, now: dict | None, names: tuple[str, str] = ("then", "now")) -> str | None:
    """The first field in which two builds differ, naming both values ('torch 2.13.0 then, 2.14.0 now', or with
    other `names` for the two sides); None if they agree. A record without a build (written before builds were
    recorded) differs from any build."""
    if then == now:
        return None
    if not isinstance(then, dict) or not isinstance(now, dict):
        return (f"virnucpro {_version(then)} {names[0]}, {_version(now)} {names[1]}; "
                "a record without a build comes from an older virnucpro")
    for key in (*BUILD_FIELDS, *sorted(set(then) | set(now))):
        if then.get(key) != now.get(key):
            return f"{key} {_show(then.get(key))} {names[0]}, {_show(now.get(key))} {names[1]}"
    return None


def _version(build) -> str:
    return _show(build.get("virnucpro")) if isinstance(build, dict) else "unrecorded"


def _show(value) -> str:
    text = "none" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
