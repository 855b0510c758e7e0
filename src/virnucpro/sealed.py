"""Sealed safetensors: a file whose metadata carries the sha256 of its tensors and of its own place.

Everything virnucpro writes and later trusts as tensors (extract's embedding parts, train's feature
cache, trained classifiers) is written with `save_sealed`: the metadata field `sha256` digests every
tensor's name, dtype, shape and bytes plus every other metadata field (frame IDs, unit index, cache
key). `load_sealed` recomputes it, so flipped bytes, a truncated file, or a part copied over another
of the same size (other unit index, other IDs) are found before the content is reused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

SEAL = "sha256"


def tensors_digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """sha256 over the tensors (sorted by name: name, dtype, shape, bytes) and every metadata field but the seal."""
    h = hashlib.sha256()
    h.update(json.dumps({k: v for k, v in sorted(metadata.items()) if k != SEAL}, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())  # raw bytes, no copy
    return h.hexdigest()


def non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """Name of the first floating-point tensor holding a NaN or an infinity, else None."""
    for name, t in tensors.items():
        if t.is_floating_point() and t.numel() and not bool(torch.isfinite(t).all()):
            return name
    return None


def save_sealed(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write `tensors` atomically with `metadata` plus its seal.

    Raises:
        IntegrityError: a floating-point tensor is not finite (nothing is written).
        OSError: the file cannot be written (names `path`).
    """
    from virnucpro.atomic import save_safetensors
    from virnucpro.errors import IntegrityError

    bad = non_finite(tensors)
    if bad is not None:
        raise IntegrityError(f"{bad!r} for {Path(path).name} holds NaN or infinite values (damaged model weights or "
                             "a numeric overflow): nothing was written; check the models, or use --precision fp32")
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    meta = {**metadata, SEAL: tensors_digest(tensors, metadata)}
    save_safetensors(Path(path), tensors, meta)


def load_sealed(path: Path, expect: dict[str, str] | None = None) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, metadata) of a sealed file whose seal and `expect`ed metadata fields match.

    Raises:
        ValueError: unreadable, unsealed, damaged (seal differs), or holding another place's content
            (an `expect`ed field differs); the message names the file.
    """
    from safetensors import safe_open

    try:
        with safe_open(str(path), "pt") as st:
            meta = dict(st.metadata() or {})
            tensors = {k: st.get_tensor(k) for k in st.keys()}
    except Exception as exc:  # safetensors raises several types for damaged files  # noqa: BLE001
        raise ValueError(f"{str(path)!r} is not a readable safetensors file ({type(exc).__name__})") from None
    if SEAL not in meta:
        raise ValueError(f"{str(path)!r} carries no content checksum")
    if tensors_digest(tensors, meta) != meta[SEAL]:
        raise ValueError(f"{str(path)!r} is damaged (its content no longer matches its checksum)")
    for key, want in (expect or {}).items():
        if meta.get(key) != want:
            raise ValueError(f"{str(path)!r} holds other content (its {key!r} is not the expected one)")
    return tensors, meta
