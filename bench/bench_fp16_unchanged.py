"""Does the fp16 path stay bit-identical now that ESM-2's blocks take a chosen linear kernel (the fp8 change)?

Runs four full-width ESM-2 3B layers (random fp16 weights, a packed W500-like batch, compiled as in
`predict`) through the blocks as they were before the change (copied here from commit 24ba37f) and
through today's `esm2.blocks(F.linear)`, and compares the outputs bit for bit.

Usage: python bench/bench_fp16_unchanged.py [--tokens 65536] [--out results.json]
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F


def _pre_attention_24ba37f(x, cos, sin, ln_w, ln_b, eps: float, qkv_w, qkv_b, heads: int):
    from virnucpro.models.esm2 import _rotate

    T, d = x.shape
    head_dim = d // heads
    q, k, v = F.linear(F.layer_norm(x, (d,), ln_w, ln_b, eps), qkv_w, qkv_b).view(T, 3, heads, head_dim).unbind(1)
    scale = head_dim ** -0.5
    return _rotate(q, cos * scale, sin * scale), _rotate(k, cos, sin), v


def _post_attention_24ba37f(x, a, out_w, out_b, ln_w, ln_b, eps: float, fc1_w, fc1_b, fc2_w, fc2_b):
    x = x + F.linear(a.flatten(1), out_w, out_b)
    h = F.gelu(F.linear(F.layer_norm(x, (x.shape[1],), ln_w, ln_b, eps), fc1_w, fc1_b))
    return x + F.linear(h, fc2_w, fc2_b)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    from virnucpro.models import esm2
    from virnucpro.models.attention import plan_attention, run_planned

    cfg = esm2.PRESETS["esm2_t36_3B_UR50D"]
    d, f, heads, dev, dt = cfg.embed_dim, cfg.ffn_dim, cfg.attention_heads, "cuda", torch.float16
    g = torch.Generator(device=dev).manual_seed(0)
    lengths = [int(n) for n in torch.randint(60, 168, (args.tokens // 170,), generator=g, device=dev)]
    cu = torch.tensor([0] + lengths, device=dev).cumsum(0).int()
    pos = torch.cat([torch.arange(m, device=dev) for m in lengths])
    w = lambda *s: (torch.randn(*s, device=dev, generator=g) * 0.02).to(dt)  # noqa: E731
    layers = [dict(ln1=(1 + w(d), w(d)), qkv=(w(3 * d, d), w(3 * d)), out=(w(d, d), w(d)), ln2=(1 + w(d), w(d)),
                   fc1=(w(f, d), w(f)), fc2=(w(d, f), w(d))) for _ in range(args.layers)]
    inv_freq = 1.0 / 10000 ** (torch.arange(0, cfg.head_dim, 2, device=dev).float() / cfg.head_dim)
    cos, sin = esm2.rotary_tables(inv_freq, pos)
    x0 = torch.randn(len(pos), d, device=dev, generator=g).to(dt)
    probe = torch.empty(len(pos), heads, cfg.head_dim, device=dev, dtype=dt)
    plan = plan_attention(probe, cu, max(lengths), backend="auto")

    old_pre, old_post = (torch.compile(fn, dynamic=False) for fn in (_pre_attention_24ba37f, _post_attention_24ba37f))
    new_pre, new_post = esm2.kernels(True, "plain")
    with torch.inference_mode():
        x_old, x_new = x0, x0
        for L in layers:
            q, k, v = old_pre(x_old, cos, sin, *L["ln1"], 1e-5, *L["qkv"], heads)
            x_old = old_post(x_old, run_planned(q, k, v, plan, scale=1.0), *L["out"], *L["ln2"], 1e-5, *L["fc1"],
                             *L["fc2"])
            q, k, v = new_pre(x_new, cos, sin, *L["ln1"], 1e-5, L["qkv"], heads)
            x_new = new_post(x_new, run_planned(q, k, v, plan, scale=1.0), L["out"], *L["ln2"], 1e-5, L["fc1"],
                             L["fc2"])
        torch.cuda.synchronize()
    same = bool(torch.equal(x_old, x_new))
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "tokens": len(pos),
              "layers": args.layers, "bit_identical": same,
              "max_abs_difference": float((x_old.float() - x_new.float()).abs().max())}
    print(json.dumps(result))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
