"""run_info.json: what a run was (version, command, parameters, models, input) and how it went."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from virnucpro import __version__
from virnucpro.errors import ResumeError
from virnucpro.logs import command_line
from virnucpro.records import SEAL, load_info, read_info, seal_of, write_info  # noqa: F401  (the run record's I/O)

RESUME_KEYS = ("parameters", "models", "input", "build")  # must match for a run to be resumed (build: build.py)
# CPU threads move a score's last digit at most: they must match to resume unfinished work, but never make a
# finished run "another run" (its rerun with another core count is a checked no-op)
NOT_FINISHED_RUN_KEYS = ("cpu_threads",)


def versions() -> dict[str, str]:
    import numpy
    import torch

    return {"virnucpro": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "cuda": str(torch.version.cuda)}


def now_iso() -> str:
    """The current time as ISO 8601 with the UTC offset, to the second (run_info's `started` and `finished`)."""
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def mark_complete(info: dict) -> dict:
    """Set `status` complete, the `finished` time and the run's `warnings` (in place); returns `info`."""
    from virnucpro.logs import run_warnings

    info.update(status="complete", finished=now_iso(), warnings=run_warnings())
    return info


def new_info(parameters: dict, models: dict, input_desc: dict, device: str, precision: str) -> dict:
    from virnucpro.pipeline.build import build_record

    owner = "extract" if parameters.get("mode") == "extract" else "predict"
    return {"tool": "virnucpro", "owner": owner, "status": "running", "command": command_line(), "started": now_iso(),
            "versions": versions(), "build": build_record(device.split(",")),
            "parameters": parameters, "models": models, "input": input_desc, "device": device,
            "precision": precision, "counts": {}, "seconds": {}}


def same_run(old: dict, new: dict) -> bool:
    """Same parameters, models and input (what makes committed work reusable)."""
    return all(old.get(k) == new.get(k) for k in RESUME_KEYS)


def same_finished_run(old: dict, new: dict) -> bool:
    """`same_run` for a finished run: the CPU thread count is not compared."""
    return same_run(_finished_view(old), _finished_view(new))


def _finished_view(info: dict) -> dict:
    params = {k: v for k, v in (info.get("parameters") or {}).items() if k not in NOT_FINISHED_RUN_KEYS}
    return {**info, "parameters": params}


def check_resumable(old: dict, new: dict, out_dir: Path, complete: bool = False) -> None:
    """Refuse to continue (or, `complete`, to replace) a run made with other parameters, models, input or build."""
    _check_same_build(old, new, out_dir, complete)
    if complete:
        old, new = _finished_view(old), _finished_view(new)
    for key in RESUME_KEYS:
        if old.get(key) != new.get(key):
            diff = _first_difference(old.get(key), new.get(key))
            if complete:
                raise ResumeError(f"{_short(out_dir)} holds a finished run with different {key} ({diff}): use another "
                                  "-o/--output-dir, or pass --force to replace it")
            raise ResumeError(f"{_short(out_dir)} holds an unfinished run with different {key} ({diff}): rerun the "
                              "same command to resume, use another -o, or pass --force to start over")


def _check_same_build(old: dict, new: dict, out_dir: Path, complete: bool) -> None:
    """Committed units (or a finished run) of another virnucpro, torch, CUDA/cuDNN or device are not mixed with ours."""
    from virnucpro.pipeline.build import build_difference

    diff = build_difference(old.get("build"), new.get("build"))
    if diff is None:
        return
    if complete:
        raise ResumeError(f"{_short(out_dir)} holds a finished run of another build ({diff}): its results stand for "
                          "that build; use another -o/--output-dir, or pass --force to recompute with this one")
    raise ResumeError(f"{_short(out_dir)} holds an unfinished run of another build ({diff}; its scores could differ in "
                      "the last bits): resume it with that build, use another -o, or pass --force to start over")


def _first_difference(a, b) -> str:
    """The first differing field, values shortened so the error stays one short line."""
    while isinstance(a, dict) and isinstance(b, dict):
        k = next((k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)), None)
        if k is None:
            break
        a, b, name = a.get(k), b.get(k), k
        if not (isinstance(a, dict) and isinstance(b, dict)):
            return f"{name}: {_short(a)} then, {_short(b)} now"
    return f"{_short(a)} then, {_short(b)} now"


def _short(value, n: int = 40) -> str:
    text = value if isinstance(value, (str, Path)) else repr(value)
    text = str(text)
    return text if len(text) <= n else text[: n // 2 - 2] + "..." + text[-(n // 2 - 1):]
