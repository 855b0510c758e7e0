"""CPU speed of the full-size models (ESM-2 3B, DNABERT-S, random weights, fp32): frames/s and tokens/s.

Builds the benchmark's seeded random full-size models on the CPU (~12 GB of RAM), prepares the first
FRAMES kept frames of synthetic 150-nt reads (W150) and of the shipped example, and times each encoder
through the engine with the CPU batch budgets predict uses. Prints one JSON object (the README's "CPU
speed" figures come from it) with the load average before and after, since on a shared box it matters.

    PYTHONPATH=src python bench/bench_cpu_full_size.py --frames 96 --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path


def frames_of(path: Path, n: int):
    """(ids, nucleotide slices, proteins) of the first n kept frames of a FASTA (chunk size 500)."""
    from virnucpro.io.seqio import read_batches
    from virnucpro.prep.prepare import prepare_batch

    ids, nucs, prots, reads = [], [], [], 0
    for b in read_batches(str(path), 4096):
        p = prepare_batch(b, 500)
        ids += p.frame_ids
        nucs += p.nucleotides
        prots += p.proteins
        reads += len(b.ids)
    return ids[:n], nucs[:n], prots[:n], len(ids) / max(1, reads)


def timed(embedder, model, tokens, ids, budget) -> dict:
    t = time.perf_counter()
    embedder.encode(model, tokens, ids, budget)
    sec = time.perf_counter() - t
    n_tok = sum(len(x) for x in tokens)
    return {"frames": len(tokens), "tokens": n_tok, "seconds": round(sec, 2), "frames_per_s": round(len(tokens) / sec, 2),
            "tokens_per_s": round(n_tok / sec, 1)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import torch

    from virnucpro.engine.embedder import Embedder, EngineConfig, default_batch_tokens
    from virnucpro.testing.factory import full_size_random_models
    from virnucpro.testing.synthetic import write_reads

    torch.set_num_threads(args.threads)
    result = {"threads": args.threads, "cpus": os.cpu_count(), "load_before": os.getloadavg(),
              "torch": torch.__version__}
    t = time.perf_counter()
    esm, dnabert, tok, _clf = full_size_random_models("cpu")
    result["build_models_seconds"] = round(time.perf_counter() - t, 1)
    esm_budget, dna_budget = default_batch_tokens("cpu")
    emb = Embedder(dnabert, tok, esm, EngineConfig(device="cpu", dtype=torch.float32, esm_batch_tokens=esm_budget,
                                                    dnabert_batch_tokens=dna_budget))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "w150.fa"
        write_reads(src, max(200, args.frames), seed=21)
        ids, nucs, prots, per_read = frames_of(src, args.frames)
    result["w150_frames_per_read"] = round(per_read, 3)
    example = Path(__file__).resolve().parents[1] / "examples" / "example.fa"
    result["example_frames"] = len(frames_of(example, 10**9)[0])
    tk = emb.tokenize(ids, nucs, prots)
    emb.encode(emb.dnabert, tk.dna[:4], ids[:4], dna_budget)  # warm-up
    emb.encode(emb.esm, tk.protein[:4], ids[:4], esm_budget)
    result["dnabert"] = timed(emb, emb.dnabert, tk.dna, ids, dna_budget)
    result["esm"] = timed(emb, emb.esm, tk.protein, ids, esm_budget)
    both = result["dnabert"]["seconds"] + result["esm"]["seconds"]
    result["frames_per_s_both"] = round(len(ids) / both, 2)
    result["load_after"] = os.getloadavg()
    result["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
