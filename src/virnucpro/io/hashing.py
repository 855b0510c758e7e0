"""sha256 of inputs and weight files, cached by (path, size, mtime) so multi-GB models hash once."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from virnucpro.atomic import write_atomic


def sha256_file(path: Path, cache_file: Path | None = None) -> str:
    """Hex sha256 of a file's bytes; reuses `cache_file` entries whose size and mtime still match."""
    st = os.stat(path)
    key = f"{os.path.realpath(path)}|{st.st_size}|{st.st_mtime_ns}"
    cache = _read(cache_file)
    if key in cache:
        return cache[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 22):
            h.update(block)
    digest = h.hexdigest()
    if cache_file is not None:
        cache[key] = digest
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(cache_file, json.dumps(cache, indent=1))
        except OSError:
            pass  # a read-only cache only costs re-hashing
    return digest


def _read(cache_file: Path | None) -> dict:
    if cache_file is None or not cache_file.exists():
        return {}
    try:
        return json.loads(cache_file.read_text())
    except ValueError:
        return {}


def sha256_model(path: Path, cache_file: Path | None = None) -> dict[str, str]:
    """sha256 of a model file, or of each weight/config/tokenizer file of a model directory."""
    if path.is_file():
        return {path.name: sha256_file(path, cache_file)}
    names = ("config.json", "model.safetensors", "pytorch_model.bin", "tokenizer.json")
    return {n: sha256_file(path / n, cache_file) for n in names if (path / n).exists()}
