"""train's feature cache: one sealed safetensors file per (input sha256, encoders, chunk size, precision).

The file's checksum covers the features, the frame IDs and the cache key, so flipped bytes, a cut file
or another input's cache copied into its place are found and recomputed, never trained on.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from virnucpro.nofollow import make_dirs

log = logging.getLogger("virnucpro")


def load_cached(path: Path, key: str, ids: list[str]) -> torch.Tensor | None:
    """(len(ids), D) cached features for `key` and exactly these frame IDs, or None (absent or damaged)."""
    from virnucpro.sealed import load_sealed

    if not path.is_file():
        return None
    try:
        tensors, meta = load_sealed(path, {"key": key})
        same_ids = json.loads(meta["frame_ids"]) == ids
        feats = tensors["features"]
    except (ValueError, KeyError) as exc:
        log.warning("feature cache %s is damaged or belongs elsewhere (%s): recomputing it", path, exc)
        return None
    if not same_ids or len(feats) != len(ids):
        log.warning("feature cache %s holds other frames: recomputing it", path)
        return None
    return feats


def save_cached(path: Path, key: str, feats: torch.Tensor, ids: list[str]) -> None:
    """Write the features sealed with their frame IDs and key (non-finite features stop the run)."""
    from virnucpro.sealed import save_sealed

    make_dirs(path.parent)
    save_sealed(path, {"features": feats}, {"frame_ids": json.dumps(ids), "key": key})
