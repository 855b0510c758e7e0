"""Pooling A/B (float64 running-sum scan vs padded fixed-order fp32 sum) on full-size random models, the
pooling kernels' share of each encoder's batch time, and `predict` end to end with where the GPU idles.

Usage: PYTHONPATH=src python bench/bench_pooling_e2e.py --frames 20000 --reads 100000 --out results.json
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import torch


def scan_segment_mean(x, cu_seqlens, weight=None, max_len=None):
    """The pooling of 477469c: differences of a float64 running sum (a column-wise scan over T)."""
    xf = x.double()
    if weight is not None:
        xf = xf * weight.double()[:, None]
    w = weight.double() if weight is not None else torch.ones(x.shape[0], dtype=torch.float64, device=x.device)
    zero = torch.zeros(1, x.shape[1], dtype=torch.float64, device=x.device)
    running = torch.cat([zero, xf.cumsum(0)])
    counts = torch.cat([zero[:, 0], w.cumsum(0)])
    ends, starts = cu_seqlens[1:].long(), cu_seqlens[:-1].long()
    return ((running[ends] - running[starts]) / (counts[ends] - counts[starts])[:, None]).float()


def use_pooling(fn) -> None:
    from virnucpro.models import dnabert, esm2

    dnabert.segment_mean = esm2.segment_mean = fn


def event_ms(fn, reps: int = 5) -> float:
    fn()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def pooling_share(engine, which: str, tokens: list[list[int]], budget: int) -> dict:
    """ms of one full batch's forward vs ms of pooling its (T, D) states, both pooling variants."""
    import numpy as np

    from virnucpro.models.packing import pack, segment_mean

    model = engine.esm if which == "esm" else engine.dnabert
    cum = np.cumsum([len(t) for t in tokens])
    sample = tokens[: max(1, int(np.searchsorted(cum, budget, side="right")))]
    packed = pack(sample).to("cuda")
    with torch.inference_mode():
        forward = event_ms(lambda: model(packed), reps=3)
        dim = model.cfg.embed_dim if which == "esm" else model.cfg.hidden_size
        x = torch.randn(packed.num_tokens, dim, device="cuda", dtype=torch.float16)  # (T, D) final states
        keep = packed.pos >= 1
        new = event_ms(lambda: segment_mean(x, packed.cu_seqlens, keep, max_len=packed.max_len))
        old = event_ms(lambda: scan_segment_mean(x, packed.cu_seqlens, keep))
    return {"batch_tokens": packed.num_tokens, "sequences": packed.num_seqs, "forward_ms": round(forward, 2),
            "pool_padded_ms": round(new, 3), "pool_scan_ms": round(old, 3),
            "pool_padded_pct": round(100 * new / forward, 2), "pool_scan_pct": round(100 * old / forward, 2)}


def gpu_gaps(prof, wall_s: float) -> dict:
    """Busy share of the GPU over a profiled region and its largest idle gaps."""
    from torch.autograd import DeviceType

    spans = sorted((e.time_range.start, e.time_range.end) for e in prof.events() if e.device_type == DeviceType.CUDA)
    busy, gaps, cur_s, cur_e = 0.0, [], *spans[0]
    for s, e in spans[1:]:
        if s > cur_e:
            busy += cur_e - cur_s
            gaps.append((s - cur_e, cur_e))
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    busy += cur_e - cur_s
    first, last = spans[0][0], spans[-1][1]
    cpu = [e.time_range for e in prof.events() if e.device_type != DeviceType.CUDA]
    t0 = min([r.start for r in cpu] + [first])
    gaps.sort(reverse=True)
    return {"wall_s": round(wall_s, 2), "kernels": len(spans), "gpu_busy_s": round(busy / 1e6, 2),
            "busy_share_of_wall": round(busy / 1e6 / wall_s, 3),
            "first_kernel_after_s": round((first - t0) / 1e6, 2), "gpu_span_s": round((last - first) / 1e6, 2),
            "idle_gaps_over_2ms_s": round(sum(g for g, _ in gaps if g > 2000) / 1e6, 2),
            "top_gaps_ms_at_s": [[round(g / 1e3, 1), round((at - t0) / 1e6, 2)] for g, at in gaps[:12]]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=20_000)
    ap.add_argument("--reads", type=int, default=100_000)
    ap.add_argument("--profile-reads", type=int, default=20_000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    from virnucpro.benchmarking import gpu as B
    from virnucpro.engine.embedder import Embedder, EngineConfig, default_batch_tokens
    from virnucpro.models import packing

    padded = packing.segment_mean
    tmp = Path(tempfile.mkdtemp())
    res: dict = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "commit": B._commit(),
                 "command": "python bench/bench_pooling_e2e.py " + " ".join(
                     f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items())}
    work = {k: B.workload_frames(k, args.frames, tmp) for k in ("W500", "W150")}
    esm32, dna32, tok = B.build_models("cuda")
    esm_budget, dna_budget = default_batch_tokens("cuda")
    engine = Embedder(dna32, tok, esm32,
                      EngineConfig(device="cuda", dtype=torch.float16, compile=True, esm_batch_tokens=esm_budget,
                                   dnabert_batch_tokens=dna_budget))
    res["encoders"] = {}
    for pool_name, fn in (("scan", scan_segment_mean), ("padded", padded), ("scan_again", scan_segment_mean),
                          ("padded_again", padded)):
        use_pooling(fn)
        for wl, (ids, nucs, prots) in work.items():
            t = engine.tokenize(ids, nucs, prots)
            r = {"esm": B.time_encoder(engine, "esm", t.protein, ids, esm_budget),
                 "dnabert": B.time_encoder(engine, "dnabert", t.dna, ids, dna_budget)}
            res["encoders"][f"{wl}_{pool_name}"] = r
            print(pool_name, wl, "esm", r["esm"]["tokens_per_s"], "dnabert", r["dnabert"]["tokens_per_s"], flush=True)
    use_pooling(padded)
    ids, nucs, prots = work["W500"]
    t = engine.tokenize(ids, nucs, prots)
    res["pooling_share_W500"] = {"esm": pooling_share(engine, "esm", t.protein, esm_budget),
                                 "dnabert": pooling_share(engine, "dnabert", t.dna, dna_budget)}
    ids, nucs, prots = work["W150"]
    t = engine.tokenize(ids, nucs, prots)
    res["pooling_share_W150"] = {"esm": pooling_share(engine, "esm", t.protein, esm_budget),
                                 "dnabert": pooling_share(engine, "dnabert", t.dna, dna_budget)}
    print(json.dumps(res["pooling_share_W500"]), json.dumps(res["pooling_share_W150"]), flush=True)
    esm_only = res["encoders"]["W150_padded_again"]["esm"]["frames_per_s"]
    e2e = B.e2e_predict(engine, args.reads, tmp)
    e2e["fraction_of_esm_only_rate"] = round(e2e["frames_per_s"] / esm_only, 3)
    res["e2e_W150"] = e2e
    print("e2e", json.dumps(e2e), flush=True)
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        t0 = time.perf_counter()
        small = B.e2e_predict(engine, args.profile_reads, tmp)
        wall = time.perf_counter() - t0
    res["e2e_profiled"] = {**small, **gpu_gaps(prof, wall)}
    print("profiled", json.dumps(res["e2e_profiled"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1) + "\n")


if __name__ == "__main__":
    main()
