"""run_info.json: what a run was (version, command, parameters, models, input) and how it went."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from virnucpro import __version__
from virnucpro.atomic import write_atomic
from virnucpro.errors import ResumeError

RESUME_KEYS = ("parameters", "models", "input")  # must match for a run to be resumed


def versions() -> dict[str, str]:
    import numpy
    import torch

    return {"virnucpro": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "cuda": str(torch.version.cuda)}


def new_info(parameters: dict, models: dict, input_desc: dict, device: str, precision: str) -> dict:
    return {"tool": "virnucpro", "status": "running", "command": " ".join(sys.argv), "versions": versions(),
            "parameters": parameters, "models": models, "input": input_desc, "device": device,
            "precision": precision, "counts": {}, "seconds": {}}


def read_info(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def write_info(path: Path, info: dict) -> None:
    write_atomic(path, json.dumps(info, indent=2) + "\n")


def check_resumable(old: dict, new: dict, out_dir: Path) -> None:
    """Refuse to continue a run made with other parameters, models or input."""
    for key in RESUME_KEYS:
        if old.get(key) != new.get(key):
            diff = _first_difference(old.get(key), new.get(key))
            raise ResumeError(f"{out_dir} holds an unfinished run with different {key} ({diff}): rerun with the "
                              "same command to resume, use another -o/--output-dir, or pass --force to start over")


def _first_difference(a, b) -> str:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if a.get(k) != b.get(k):
                return f"{k}: {a.get(k)!r} then, {b.get(k)!r} now"
    return f"{a!r} then, {b!r} now"
