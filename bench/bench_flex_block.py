"""A/B of the FlexAttention block size for DNABERT-S (64 vs 128 tokens per BlockMask block and kernel tile).

Short documents (W150 frames are ~50 DNABERT tokens) fill a 128x128 tile poorly. Alternates the two
sizes on the same engine, W150 and W500 frames, 4 rounds each, printing every timing.

Usage: python bench/bench_flex_block.py [--frames 24000] [--out ab.json]
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
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    from virnucpro.benchmarking.gpu import workload_frames
    from virnucpro.engine.embedder import Embedder, EngineConfig, default_batch_tokens
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
    rows = []
    for wl in ("W150", "W500"):
        ids, nucs, prots = workload_frames(wl, args.frames, tmp)
        toks = eng.tokenize(ids, nucs, prots).dna
        n_tok = sum(map(len, toks))
        ref = {}
        for block in (128, 64):  # warm-up / compile both, and check they agree
            flex.BLOCK = block
            ref[block] = eng.encode(eng.dnabert, toks, ids, budget)
        torch.cuda.synchronize()
        cos = torch.nn.functional.cosine_similarity(ref[64], ref[128], dim=1)
        print(f"{wl}: block 64 vs 128 embeddings: min cosine {float(cos.min()):.6f}", flush=True)
        for rnd in range(args.rounds):
            for block in (128, 64):
                flex.BLOCK = block
                t = time.perf_counter()
                eng.encode(eng.dnabert, toks, ids, budget)
                torch.cuda.synchronize()
                rate = n_tok / (time.perf_counter() - t)
                rows.append({"workload": wl, "block": block, "round": rnd, "tokens_per_s": round(rate)})
                print(f"{wl} block {block:3}  round {rnd}: {rate:,.0f} tokens/s", flush=True)
    flex.BLOCK = 128
    if args.out:
        Path(args.out).write_text(json.dumps({"device": torch.cuda.get_device_name(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
