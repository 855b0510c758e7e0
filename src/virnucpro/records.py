"""Sealed JSON records (run_info.json): read, checked against their own checksum, and written atomically.

A ground-floor module, so that the report pages read a run record without importing the pipeline.
"""

from __future__ import annotations

import json
from pathlib import Path

from virnucpro.atomic import write_atomic
from virnucpro.errors import InputError

RECORD_KEYS = {"tool", "owner", "status", "parameters", "shard", "outputs"}  # a run record holds some of these

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
    if not isinstance(info, dict) or not (RECORD_KEYS & info.keys() or isinstance(info.get("command"), str)):
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
