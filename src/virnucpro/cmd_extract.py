"""`virnucpro extract`: the per-frame DNABERT-S and ESM-2 embeddings of an input, for training or analysis.

The predict pipeline without a classifier (same engine, work units, resume, devices): every unit's
embeddings are a safetensors shard `embeddings/unit_NNNNNNN.safetensors` (`dnabert_s` (F, 768) and
`esm2` (F, 2560) float32, frame IDs in the metadata), listed in order by `embeddings/index.json`.
"""

from __future__ import annotations

import dataclasses

from virnucpro.pipeline import run as pipeline


def run(cfg: pipeline.PredictConfig) -> dict:
    """Extract with `cfg` (inputs, models, devices, ...); returns run_info."""
    return pipeline.run(dataclasses.replace(cfg, extract=True))


def load(directory: str):
    """(frame IDs, dnabert_s (F, 768), esm2 (F, 2560)) numpy arrays of a finished extract directory."""
    import json
    from pathlib import Path

    import numpy as np
    from safetensors import safe_open

    emb = Path(directory) / "embeddings"
    ids, dna, esm = [], [], []
    for shard in json.loads((emb / "index.json").read_text())["shards"]:
        with safe_open(str(emb / shard["file"]), "np") as st:
            ids += json.loads(st.metadata()["ids"])
            dna.append(st.get_tensor("dnabert_s"))
            esm.append(st.get_tensor("esm2"))
    if not dna:
        return ids, np.zeros((0, 768), np.float32), np.zeros((0, 2560), np.float32)
    return ids, np.concatenate(dna), np.concatenate(esm)
