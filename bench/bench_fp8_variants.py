"""Where fp8's embedding error comes from, and what each choice costs: agreement to fp32 (pooled ESM-2 3B
embedding cosine, random full-size weights) for FP8 on subsets of the four linears, with the bias added
after the product, and activation-only / weight-only quantisation (reference maths); then ESM-2 tokens/s
of chosen variants, compiled, after a full warm-up.

Usage: python bench/bench_fp8_variants.py [--frames 256] [--speed all4,ffn] [--out results.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from virnucpro.models import esm2, fp8

SUBSETS = {"all4": fp8.LINEARS, "no_out_fc2": ("qkv", "fc1"), "no_qkv": ("out_proj", "fc1", "fc2"), "no_out": ("qkv", "fc1", "fc2"),
           "no_fc1": ("qkv", "out_proj", "fc2"), "no_fc2": ("qkv", "out_proj", "fc1"), "ffn": ("fc1", "fc2"),
           "attn": ("qkv", "out_proj")}


def _bias_after(x, wq, ws, bias):
    """The product without bias (bf16 out), the bias added in fp32, then fp16."""
    lead, k = x.shape[:-1], x.shape[-1]
    xq, xs = fp8.quantize_rows(x.reshape(-1, k))
    out = torch._scaled_mm(xq, wq.t(), scale_a=xs, scale_b=ws, out_dtype=torch.bfloat16)
    return (out.float() + bias.float()).to(x.dtype).reshape(*lead, wq.shape[0])


def _act_only(x, wq, ws, bias):
    """Activations quantised, weights exact (dequantisation of a fp16 copy kept in ws[1])."""
    lead, k = x.shape[:-1], x.shape[-1]
    xq, xs = fp8.quantize_rows(x.reshape(-1, k))
    return F.linear((xq.float() * xs).to(x.dtype), *ws).reshape(*lead, -1)


def _weight_only(x, wq, ws, bias):
    return F.linear(x, *ws)


def embed(engine, tok, ids):
    return engine.encode(engine.esm, tok.protein, ids, 16384)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=256)
    ap.add_argument("--speed", default="all4,ffn")
    ap.add_argument("--speed-frames", type=int, default=10000)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from virnucpro.benchmarking import gpu as b
    from virnucpro.benchmarking.fp8 import _cosine, mixed_workload
    from virnucpro.engine.embedder import Embedder, EngineConfig, cast_for_inference, default_batch_tokens

    tmp = Path(tempfile.mkdtemp())
    work = {k: b.workload_frames(k, args.speed_frames, tmp) for k in ("W500", "W150")}
    ids, nucs, prots = (x[: args.frames] for x in work["W500"])
    esm32, dna32, tok = b.build_models("cuda")
    ref = Embedder(dna32, tok, esm32, EngineConfig(device="cuda", dtype=torch.float32, attention="sdpa"))
    t = ref.tokenize(ids, nucs, prots)
    want = embed(ref, t, ids)
    low = Embedder(copy.deepcopy(dna32), tok, copy.deepcopy(esm32), EngineConfig(device="cuda", dtype=torch.float16))
    rows = {"fp16": _cosine(embed(low, t, ids), want)}
    for name, subset in SUBSETS.items():
        fp8.quantize_esm(low.esm, subset)
        low.esm.use_linear("fp8")
        rows[f"fp8 {name}"] = _cosine(embed(low, t, ids), want)
    original = fp8.scaled_linear
    for name, fn in (("bias_after", _bias_after), ("act_only", _act_only), ("weight_only", _weight_only)):
        fp8.quantize_esm(low.esm)
        if name != "bias_after":  # keep (dequantised weight, bias) next to the fp8 copies for these two
            for layer in low.esm.layers:
                for lin in fp8.LINEARS:
                    wq, ws, bias = layer.fp8[lin]
                    deq = (wq.float() * ws.t()).to(torch.float16)
                    layer.fp8[lin] = (wq, (deq, getattr(layer, lin).bias) if name == "weight_only" else
                                      (getattr(layer, lin).weight, getattr(layer, lin).bias), bias)
        fp8.scaled_linear = fn
        esm2.kernels.cache_clear()
        low.esm.use_linear("fp8")
        rows[f"fp8 all4 {name}"] = _cosine(embed(low, t, ids), want)
    fp8.scaled_linear = original
    esm2.kernels.cache_clear()
    for k, v in rows.items():
        print(f"{k:24} cosine to fp32: mean {v['mean']:.6f} p1 {v['p1']:.6f} min {v['min']:.6f}", flush=True)
    del ref, low
    torch.cuda.empty_cache()

    budget, dna_budget = default_batch_tokens("cuda")
    engine = Embedder(cast_for_inference(dna32, "cuda", torch.float16), tok, cast_for_inference(esm32, "cuda",
                      torch.float16), EngineConfig(device="cuda", dtype=torch.float16, esm_batch_tokens=budget,
                                                   dnabert_batch_tokens=dna_budget, compile=True))
    work["mixed"] = mixed_workload(work, args.speed_frames)
    speed = {}
    for variant in ["fp16", *args.speed.split(",")]:
        if variant != "fp16":
            fp8.quantize_esm(engine.esm, SUBSETS[variant])
        engine.esm.use_linear("plain" if variant == "fp16" else "fp8")
        for wl, (i, n, p) in work.items():
            tk = engine.tokenize(i, n, p)
            engine.encode(engine.esm, tk.protein, i, budget)  # full warm-up: every shape bucket compiled
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            engine.encode(engine.esm, tk.protein, i, budget)
            torch.cuda.synchronize()
            sec = time.perf_counter() - t0
            n_tok = sum(len(x) for x in tk.protein)
            speed[f"{variant} {wl}"] = {"tokens_per_s": round(n_tok / sec), "frames": len(i),
                                        "tflops": round(b.esm_flops([len(x) for x in tk.protein], engine.esm.cfg) / sec / 1e12, 1)}
            print(f"{variant:6} {wl:6} {n_tok / sec:>10,.0f} tok/s", flush=True)
    fp8.quantize_esm(engine.esm)
    engine.esm.use_linear("fp8")
    i, n, p = work["W500"]
    tk = engine.tokenize(i, n, p)
    profile = b.profile_batch(engine, "esm", tk.protein, i, budget, top=14)
    for row in profile:
        print(f"profile fp8 all4: {row['pct']:5.1f}% {row['calls']:5d} x {row['kernel']}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                                              "agreement_to_fp32": rows, "speed": speed,
                                              "profile_fp8_all4_W500": profile}, indent=2))


if __name__ == "__main__":
    main()
