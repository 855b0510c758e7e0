"""Where does ESM-2 3B lose time outside its layers? GPU busy fraction of the real engine, and clocks.

1. The engine's ESM encode on W500 frames: tokens/s, and under the profiler, the sum of kernel time
   against wall time (the GPU's idle share) plus kernel time by category.
2. The same encode with SM clock / power sampled by nvidia-smi (does the chip throttle under load?).

Usage: python bench/bench_esm_gaps.py [--frames 8000] [--out gaps.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import tempfile
import time
from pathlib import Path

import torch


def _categorise(name: str) -> str:
    n = name.lower()
    for key, cat in (("nvjet", "gemm"), ("gemm", "gemm"), ("cutlass", "gemm"), ("flash", "attention"),
                     ("fmha", "attention"), ("triton", "triton fused"), ("index", "index/gather"),
                     ("copy", "copy"), ("elementwise", "elementwise"), ("reduce", "reduce")):
        if key in n:
            return cat
    return "other"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=8000)
    ap.add_argument("--budget", type=int, default=65536)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from virnucpro.benchmarking.gpu import build_models, workload_frames
    from virnucpro.engine.embedder import Embedder, EngineConfig, cast_for_inference

    tmp = Path(tempfile.mkdtemp())
    ids, nucs, prots = workload_frames("W500", args.frames, tmp)
    esm32, dna32, tok = build_models("cuda")
    esm16 = cast_for_inference(copy.deepcopy(esm32), "cuda", torch.float16)
    dna16 = cast_for_inference(dna32, "cuda", torch.float16)
    del esm32
    torch.cuda.empty_cache()
    eng = Embedder(dna16, tok, esm16, EngineConfig(device="cuda", dtype=torch.float16, esm_batch_tokens=args.budget,
                                                   dnabert_batch_tokens=4 * args.budget, compile=True))
    t = eng.tokenize(ids, nucs, prots)
    n_tok = sum(map(len, t.protein))
    eng.encode(eng.esm, t.protein[:800], ids, args.budget)  # compile + warm-up
    torch.cuda.synchronize()
    out: dict = {"device": torch.cuda.get_device_name(), "frames": len(ids), "tokens": n_tok}

    smi = subprocess.Popen(["nvidia-smi", "--query-gpu=clocks.sm,power.draw,temperature.gpu",
                            "--format=csv,noheader,nounits", "-lms", "500"], stdout=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    for _ in range(3):
        eng.encode(eng.esm, t.protein, ids, args.budget)
    torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / 3
    smi.terminate()
    samples = [tuple(float(x) for x in line.split(",")) for line in smi.stdout.read().splitlines() if line.strip()]
    out["tokens_per_s"] = round(n_tok / sec)
    out["batches_per_encode"] = -(-n_tok // args.budget)
    out["clock_mhz"] = [s[0] for s in samples]
    out["power_w"] = [s[1] for s in samples]
    print(f"engine ESM W500: {out['tokens_per_s']:,} tok/s; SM clock min/median/max "
          f"{min(out['clock_mhz'])}/{sorted(out['clock_mhz'])[len(samples) // 2]}/{max(out['clock_mhz'])} MHz; "
          f"power max {max(out['power_w'])} W", flush=True)

    from torch.profiler import ProfilerActivity, profile

    sub = t.protein[:1600]
    with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
        w0 = time.perf_counter()
        eng.encode(eng.esm, sub, ids, args.budget)
        torch.cuda.synchronize()
        wall = time.perf_counter() - w0
    kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    busy_us = sum(e.device_time for e in kernels)
    by_cat: dict = {}
    for e in kernels:
        by_cat[_categorise(e.name)] = by_cat.get(_categorise(e.name), 0.0) + e.device_time
    starts = sorted((e.time_range.start, e.time_range.end) for e in kernels)
    span = (starts[-1][1] - starts[0][0]) if starts else 0
    gaps = [b[0] - a[1] for a, b in zip(starts, starts[1:]) if b[0] > a[1]]
    out["profile"] = {"wall_s": round(wall, 4), "kernel_s": round(busy_us / 1e6, 4), "kernel_span_s": round(span / 1e6, 4),
                      "gap_s": round(sum(gaps) / 1e6, 4), "largest_gaps_ms": sorted((round(g / 1e3, 2) for g in gaps),
                                                                                      reverse=True)[:10],
                      "by_category_pct": {k: round(100 * v / busy_us, 1) for k, v in sorted(by_cat.items(), key=lambda kv: -kv[1])},
                      "sub_tokens": sum(map(len, sub))}
    print(json.dumps(out["profile"], indent=1))
    table = prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=25)
    print(table[:6000])
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
