"""A/B of one FlexAttention change for DNABERT-S: query blocks of pure padding with or without key blocks.

Alternates the two variants on the same engine, W150 and W500 frames, 3 rounds each, and prints the
tokens/s of every timing (so run-to-run spread is visible next to the difference).

Measured at b53831f (`results/dnabert_padblocks_h100.json`); the change was then reverted, so on later
commits both variants run the same code (kept as the record of how the decision was made).

Usage: python bench/bench_dnabert_padblocks.py [--frames 24000] [--out ab.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=24000)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    from virnucpro.benchmark import workload_frames
    from virnucpro.engine import Embedder, EngineConfig, default_batch_tokens
    from virnucpro.models import flex
    from virnucpro.models.dna_tokenizer import DnaTokenizer
    from virnucpro.models.dnabert import DNABERT_S, DnaBert
    from virnucpro.models.esm2 import ESM2, PRESETS
    from virnucpro.testing.factory import train_dna_tokenizer

    tmp = Path(tempfile.mkdtemp())
    train_dna_tokenizer(4096, seed=0, corpus_size=3000).save(str(tmp / "tokenizer.json"))
    torch.manual_seed(0)
    with torch.device("cuda"):
        dna = DnaBert(DNABERT_S).eval()
        esm = ESM2(PRESETS["esm2_t6_8M_UR50D"]).eval()  # unused here; the engine holds both encoders
    _, budget = default_batch_tokens("cuda")
    eng = Embedder(dna, DnaTokenizer(tmp / "tokenizer.json"), esm,
                   EngineConfig(device="cuda", dtype=torch.float16, dnabert_batch_tokens=budget, compile=True))
    original = flex.doc_block_mask
    variants = {"pad blocks skipped": original, "pad blocks attend": lambda doc, n_real=None: original(doc)}
    rows = []
    for wl in ("W150", "W500"):
        ids, nucs, prots = workload_frames(wl, args.frames, tmp)
        toks = eng.tokenize(ids, nucs, prots).dna
        n_tok = sum(map(len, toks))
        for name, fn in variants.items():  # warm-up / compile both
            flex.doc_block_mask = fn
            eng.encode(eng.dnabert, toks, ids, budget)
        torch.cuda.synchronize()
        for rnd in range(3):
            for name, fn in variants.items():
                flex.doc_block_mask = fn
                t = time.perf_counter()
                eng.encode(eng.dnabert, toks, ids, budget)
                torch.cuda.synchronize()
                rate = n_tok / (time.perf_counter() - t)
                rows.append({"workload": wl, "variant": name, "round": rnd, "tokens_per_s": round(rate)})
                print(f"{wl} {name:20} round {rnd}: {rate:,.0f} tokens/s ({n_tok} tokens, budget {budget})", flush=True)
    flex.doc_block_mask = original
    if args.out:
        Path(args.out).write_text(json.dumps({"device": torch.cuda.get_device_name(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
