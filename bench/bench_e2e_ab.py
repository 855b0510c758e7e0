"""`predict` end to end on one GPU with warmed random full-size models: the same measurement for any
checkout (run it with PYTHONPATH pointing at each), so two commits compare in one lease.

Usage: PYTHONPATH=src python bench/bench_e2e_ab.py --reads 150000 --label HEAD --out results.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch


def _imports():
    """The same names from a checkout before the stage folders (flat modules) or after (pipeline/, engine/, ...),
    spelled through importlib so that no rewrite of import paths touches them."""
    import importlib

    def get(module: str):
        return importlib.import_module("virnucpro." + module)

    try:
        engine, cmd_predict, synthetic = get("engine.embedder"), get("pipeline.run"), get("testing.synthetic")
    except ImportError:
        engine, cmd_predict, synthetic = get("engine"), get("cmd_predict"), get("synthetic")
    return cmd_predict, engine.Embedder, engine.EngineConfig, engine.default_batch_tokens, synthetic.write_reads


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=150_000)
    ap.add_argument("--label", default="HEAD")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--unit-frames", type=int, default=0, help="0: the checkout's default plan")
    args = ap.parse_args()
    cmd_predict, Embedder, EngineConfig, default_batch_tokens, write_reads = _imports()
    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.models.dna_tokenizer import DnaTokenizer
    from virnucpro.models.dnabert import DNABERT_S, DnaBert
    from virnucpro.models.esm2 import ESM2, PRESETS
    from virnucpro.testing.factory import train_dna_tokenizer

    tmp = Path(tempfile.mkdtemp())
    torch.manual_seed(0)
    with torch.device("cuda"):
        esm, dnabert = ESM2(PRESETS["esm2_t36_3B_UR50D"]).eval(), DnaBert(DNABERT_S).eval()
    train_dna_tokenizer(4096, seed=0, corpus_size=3000).save(str(tmp / "tokenizer.json"))
    esm_tokens, dna_tokens = default_batch_tokens("cuda")
    embedder = Embedder(dnabert, DnaTokenizer(tmp / "tokenizer.json"), esm,
                        EngineConfig(device="cuda", dtype=torch.float16, compile=True, esm_batch_tokens=esm_tokens,
                                     dnabert_batch_tokens=dna_tokens))
    torch.manual_seed(1)
    clf = MLPClassifier(embedder.feature_dim).eval()
    rows = {}
    for name, n in (("warmup", 20_000), ("measured", args.reads)):
        src = tmp / f"{name}.fa"
        write_reads(src, n, seed=21)
        fields = {f.name for f in dataclasses.fields(cmd_predict.PredictConfig)}
        given = {"inputs": [str(src)]} if "inputs" in fields else {"input": str(src)}  # older checkouts: one input
        cfg = cmd_predict.PredictConfig(**given, output_dir=tmp / name, force=True, device="cuda",
                                        precision="fp16", progress=False, unit_frames=args.unit_frames)
        t = time.perf_counter()
        info = cmd_predict.run(cfg, preloaded=(embedder, clf))
        sec = time.perf_counter() - t
        rows[name] = {"reads": n, "frames": info["counts"]["frames"], "seconds": round(sec, 2),
                      "frames_per_s": round(info["counts"]["frames"] / sec, 1),
                      "minutes_per_million_reads": round(sec / n * 1e6 / 60, 2), "stage_seconds": info["seconds"]}
    result = {"label": args.label, "device": torch.cuda.get_device_name(), "torch": torch.__version__, **rows}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    m = rows["measured"]
    print(f"{args.label}: {m['reads']:,} reads {m['frames']:,} frames {m['seconds']} s {m['frames_per_s']:,} frames/s "
          f"{m['minutes_per_million_reads']} min/M reads", flush=True)


if __name__ == "__main__":
    main()
