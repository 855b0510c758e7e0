"""run_info.json: what a run was (version, command, parameters, models, input) and how it went."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

from virnucpro import __version__
from virnucpro.atomic import write_atomic
from virnucpro.errors import InputError, ResumeError

RESUME_KEYS = ("parameters", "models", "input")  # must match for a run to be resumed


def versions() -> dict[str, str]:
    import numpy
    import torch

    return {"virnucpro": __version__, "python": platform.python_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "cuda": str(torch.version.cuda)}


def new_info(parameters: dict, models: dict, input_desc: dict, device: str, precision: str) -> dict:
    owner = "extract" if parameters.get("mode") == "extract" else "predict"
    return {"tool": "virnucpro", "owner": owner, "status": "running", "command": " ".join(sys.argv), "versions": versions(),
            "parameters": parameters, "models": models, "input": input_desc, "device": device,
            "precision": precision, "counts": {}, "seconds": {}}


SEAL = "sha256"  # run_info's own checksum: sha256 of its canonical JSON without this field


def seal_of(info: dict) -> str:
    import hashlib

    body = json.dumps({k: v for k, v in info.items() if k != SEAL}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()


def read_info(path: Path) -> dict | None:
    """The run_info.json at `path`, or None when it is missing, unreadable, not a JSON object, or edited
    (its `sha256` no longer matches; files of older versions carry none and are taken as they are)."""
    try:
        return load_info(path)
    except InputError:
        return None


def load_info(path: Path) -> dict:
    """The run_info.json at `path`, checked like `read_info`.

    Raises:
        InputError: missing, unreadable, not a JSON object, or edited since virnucpro wrote it (names the file).
    """
    try:
        info = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise InputError(f"no run_info.json in {str(Path(path).parent)!r}: give a virnucpro output directory") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{str(path)!r} is unreadable ({type(exc).__name__}): rerun the command that wrote it "
                         "with --force") from None
    if not isinstance(info, dict):
        raise InputError(f"{str(path)!r} is not a virnucpro run record (a JSON object): rerun the command that wrote "
                         "it with --force")
    if SEAL in info and info[SEAL] != seal_of(info):
        raise InputError(f"{str(path)!r} was edited or damaged after virnucpro wrote it (its checksum differs): "
                         "rerun the command that wrote it with --force")
    return info


def write_info(path: Path, info: dict) -> None:
    """Write run_info.json atomically, sealed with its own checksum."""
    sealed = {**{k: v for k, v in info.items() if k != SEAL}, SEAL: seal_of(info)}
    write_atomic(path, json.dumps(sealed, indent=2, default=str) + "\n")


def same_run(old: dict, new: dict) -> bool:
    """Same parameters, models and input (what makes committed work reusable)."""
    return all(old.get(k) == new.get(k) for k in RESUME_KEYS)


def check_resumable(old: dict, new: dict, out_dir: Path, complete: bool = False) -> None:
    """Refuse to continue (or, `complete`, to replace) a run made with other parameters, models or input."""
    for key in RESUME_KEYS:
        if old.get(key) != new.get(key):
            diff = _first_difference(old.get(key), new.get(key))
            if complete:
                raise ResumeError(f"{_short(out_dir)} holds a finished run with different {key} ({diff}): use another "
                                  "-o/--output-dir, or pass --force to replace it")
            raise ResumeError(f"{_short(out_dir)} holds an unfinished run with different {key} ({diff}): rerun the "
                              "same command to resume, use another -o, or pass --force to start over")


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
