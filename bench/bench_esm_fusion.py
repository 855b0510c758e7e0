"""ESM-2 3B layer-fusion experiments on one GPU: where the non-GEMM time goes and what removes it.

Times a stack of full-width ESM-2 3B layers (random fp16 weights, varlen flash attention, a packed
batch of W500-like or W150-like sequences) under several compilation variants, plus the bare cuBLAS
GEMMs of one layer, and prints ms per layer and the implied 36-layer tokens/s.

Usage: python bench/bench_esm_fusion.py [--tokens 65536] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F


def _timeit(fn, iters: int = 10) -> float:
    fn()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / iters


def _post_tanh(x, a, out: tuple, ln_w, ln_b, eps: float, fc1: tuple, fc2: tuple):
    """Variant: fc1 with cuBLASLt's GELU epilogue (tanh approximation: NOT the model's erf GELU)."""
    (out_w, out_b), (fc1_w, fc1_b), (fc2_w, fc2_b) = out, fc1, fc2
    x = x + F.linear(a.flatten(1), out_w, out_b)
    h = torch._addmm_activation(fc1_b, F.layer_norm(x, (x.shape[1],), ln_w, ln_b, eps), fc1_w.t(), use_gelu=True)
    return x + F.linear(h, fc2_w, fc2_b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--seq-len", type=int, default=168)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--variants", default="default,max-autotune,tanh-epilogue")
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from virnucpro.models import esm2
    from virnucpro.models.attention import plan_attention, run_planned

    cfg = esm2.PRESETS["esm2_t36_3B_UR50D"]
    d, f, heads = cfg.embed_dim, cfg.ffn_dim, cfg.attention_heads
    dev, dt = "cuda", torch.float16
    T, n = args.tokens, args.seq_len
    lengths = [n] * (T // n) + ([T % n] if T % n else [])
    cu = torch.tensor([0] + lengths, device=dev).cumsum(0).int()
    pos = torch.cat([torch.arange(m, device=dev) for m in lengths])
    torch.manual_seed(0)
    layers = []
    for _ in range(args.layers):
        w = lambda *s: (torch.randn(*s, device=dev) * 0.02).to(dt)  # noqa: E731
        layers.append(dict(ln1=(torch.ones(d, device=dev, dtype=dt), w(d)), qkv=(w(3 * d, d), w(3 * d)),
                           out=(w(d, d), w(d)), ln2=(torch.ones(d, device=dev, dtype=dt), w(d)),
                           fc1=(w(f, d), w(f)), fc2=(w(d, f), w(d))))
    inv_freq = 1.0 / 10000 ** (torch.arange(0, cfg.head_dim, 2, device=dev).float() / cfg.head_dim)
    cos, sin = esm2.rotary_tables(inv_freq, pos)
    x0 = torch.randn(T, d, device=dev, dtype=dt)
    probe = torch.empty(T, heads, cfg.head_dim, device=dev, dtype=dt)
    plan = plan_attention(probe, cu, max(lengths), backend="auto")

    def stack(pre, post):
        def run():
            x = x0
            for L in layers:
                q, k, v = pre(x, cos, sin, *L["ln1"], 1e-5, L["qkv"], heads)
                x = post(x, run_planned(q, k, v, plan, scale=1.0), L["out"], *L["ln2"], 1e-5, L["fc1"], L["fc2"])
            return x
        return run

    rows = {}
    # bare GEMMs of one layer (cuBLAS): the floor the layer cannot beat
    a = torch.randn(T, d, device=dev, dtype=dt)
    h = torch.randn(T, f, device=dev, dtype=dt)
    L = layers[0]
    gemm = {"qkv": lambda: F.linear(a, *L["qkv"]), "out": lambda: F.linear(a, *L["out"]),
            "fc1": lambda: F.linear(a, *L["fc1"]), "fc2": lambda: F.linear(h, *L["fc2"]),
            "fc1+gelu_tanh_epilogue": lambda: torch._addmm_activation(L["fc1"][1], a, L["fc1"][0].t(), use_gelu=True)}
    for name, fn in gemm.items():
        rows[f"gemm {name}"] = _timeit(fn, 20) * 1e3
    rows["gemm sum (4 GEMMs)"] = sum(rows[f"gemm {k}"] for k in ("qkv", "out", "fc1", "fc2"))
    rows["attention"] = _timeit(lambda: run_planned(probe, probe, probe, plan, scale=1.0), 20) * 1e3

    import torch._inductor.config as icfg

    for variant in args.variants.split(","):
        torch._dynamo.reset()
        t0 = time.perf_counter()
        if variant == "eager":
            pre, post = esm2.blocks(F.linear)
        elif variant == "default":
            pre, post = (torch.compile(fn, dynamic=False) for fn in esm2.blocks(F.linear))
        elif variant.startswith("max-autotune"):
            icfg.max_autotune_gemm_backends = "ATEN,TRITON"
            if variant.endswith("tma"):
                icfg.triton.enable_persistent_tma_matmul = True
            pre, post = (torch.compile(fn, dynamic=False, mode="max-autotune-no-cudagraphs")
                         for fn in esm2.blocks(F.linear))
        elif variant == "tanh-epilogue":
            pre, post = (torch.compile(fn, dynamic=False) for fn in (esm2.blocks(F.linear)[0], _post_tanh))
        else:
            raise SystemExit(f"unknown variant {variant}")
        run = stack(pre, post)
        with torch.no_grad():
            run()
            torch.cuda.synchronize()
            compile_s = time.perf_counter() - t0
            ms = _timeit(run, 5) * 1e3 / args.layers
        rows[f"layer {variant}"] = ms
        rows[f"compile_s {variant}"] = compile_s
        print(f"{variant:24} {ms:8.3f} ms/layer  {T / (ms * 36 / 1e3):10.0f} tok/s (36 layers)  compile {compile_s:.0f}s",
              flush=True)
    for k, v in rows.items():
        print(f"{k:32} {v:9.3f}")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "args": vars(args),
                       "rows": rows}, fh, indent=2)


if __name__ == "__main__":
    main()
