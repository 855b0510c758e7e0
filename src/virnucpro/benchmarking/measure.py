"""The benchmark's measurements: matmul ceilings, FLOP counts, workloads, encoder timing, profiles, the
transformers baseline, precision agreement and predict end to end (used by `gpu.run` and bench/ scripts)."""

from __future__ import annotations

import copy
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

def _sync() -> None:
    torch.cuda.synchronize()


def matmul_ceiling(n: int = 8192, iters: int = 20) -> float:
    """Measured fp16 dense matmul TFLOP/s in a short burst (boost clocks; the figure MFU is reported against)."""
    a, b = (torch.randn(n, n, device="cuda", dtype=torch.float16) for _ in range(2))
    for _ in range(3):
        a @ b
    _sync()
    t = time.perf_counter()
    for _ in range(iters):
        a @ b
    _sync()
    return 2 * n**3 * iters / (time.perf_counter() - t) / 1e12


def sustained_matmul_ceiling(seconds: float = 15.0, n: int = 8192) -> dict:
    """fp16 dense matmul TFLOP/s under sustained load (see `sustained_rate`)."""
    a, b = (torch.randn(n, n, device="cuda", dtype=torch.float16) for _ in range(2))
    return sustained_rate(lambda: a @ b, 2 * n**3, seconds)


def sustained_rate(product, flops: float, seconds: float) -> dict:
    """TFLOP/s of `product()` (`flops` each) over the last third of `seconds` of back-to-back calls, with the SM
    clock (nvidia-smi) at the end: under sustained load the chip sits at its power cap and clocks down."""
    t0 = time.perf_counter()
    done, t_mark, mark = 0, None, 0
    while (now := time.perf_counter()) - t0 < seconds:
        if t_mark is None and now - t0 > 2 * seconds / 3:
            _sync()
            t_mark, mark = time.perf_counter(), done
        for _ in range(10):
            product()
        done += 10
    _sync()
    tflops = flops * (done - mark) / (time.perf_counter() - t_mark) / 1e12
    return {"tflops": round(tflops, 1), "sm_clock_mhz_power_w": _clock_and_power()}


def _clock_and_power() -> str:
    try:
        return subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,power.draw", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def esm_flops(lengths: list[int], cfg) -> float:
    """Forward FLOPs: 2 x matmul weights per token + 4 d L n^2 attention per sequence (no lm_head)."""
    d, L = cfg.embed_dim, cfg.num_layers
    per_token = 2 * L * (4 * d * d + 2 * d * cfg.ffn_dim)
    return float(sum(per_token * n + 4 * d * L * n * n for n in lengths))


def dnabert_flops(lengths: list[int], cfg) -> float:
    d, L, i = cfg.hidden_size, cfg.num_hidden_layers, cfg.intermediate_size
    per_token = 2 * L * (4 * d * d + 3 * d * i)
    return float(sum(per_token * n + 4 * d * L * n * n for n in lengths))


def workload_frames(kind: str, n_frames: int, tmp: Path) -> tuple[list[str], list[str], list[str]]:
    """(ids, nucleotide slices, proteins) of the first n_frames kept frames of W150 reads or W500 contigs."""
    from virnucpro.prep.prepare import prepare_batch
    from virnucpro.io.seqio import read_batches
    from virnucpro.testing.synthetic import write_contigs, write_reads

    src = tmp / f"{kind}.fa"
    if kind == "W150":
        write_reads(src, max(20_000, int(n_frames * 1.5)), seed=11)
    else:
        write_contigs(src, max(5_000, int(n_frames * 0.5)), length=500, seed=12)
    ids, nucs, prots = [], [], []
    for b in read_batches(str(src), 16384):
        p = prepare_batch(b, 500)
        ids += p.frame_ids
        nucs += p.nucleotides
        prots += p.proteins
        if len(ids) >= n_frames:
            break
    return ids[:n_frames], nucs[:n_frames], prots[:n_frames]


def build_models(device: str):
    """Full-size ESM-2 3B and DNABERT-S with random weights built directly on the GPU (fp32 masters)."""
    from virnucpro.testing.factory import full_size_random_models

    esm, dnabert, tokenizer, _classifier = full_size_random_models(device)
    return esm, dnabert, tokenizer


def time_encoder(embedder, which: str, tokens: list[list[int]], ids: list[str], budget: int) -> dict:
    """Throughput of one encoder through the engine (warm-up run first: compile, autotune, allocator)."""
    model = embedder.esm if which == "esm" else embedder.dnabert
    warm = tokens[: max(1, len(tokens) // 10)]
    embedder.encode(model, warm, ids, budget)
    _sync()
    torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    embedder.encode(model, tokens, ids, budget)
    _sync()
    sec = time.perf_counter() - t
    lengths = [len(x) for x in tokens]
    flops = esm_flops(lengths, model.cfg) if which == "esm" else dnabert_flops(lengths, model.cfg)
    return {"frames": len(tokens), "tokens": sum(lengths), "seconds": round(sec, 3),
            "tokens_per_s": round(sum(lengths) / sec), "frames_per_s": round(len(tokens) / sec, 1),
            "tflops": round(flops / sec / 1e12, 1), "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}


def set_compiled(model, on: bool) -> None:
    for layer in model.layers:
        layer.compiled = on


def profile_batch(embedder, which: str, tokens: list[list[int]], ids: list[str], budget: int, top: int = 12) -> list:
    """Top CUDA kernels (share of device time) for one full batch: where the time goes."""
    from torch.profiler import ProfilerActivity, profile

    model = embedder.esm if which == "esm" else embedder.dnabert
    cumulative = np.cumsum([len(t) for t in tokens])
    sample = tokens[: max(1, int(np.searchsorted(cumulative, budget, side="right")))]  # one batch worth
    embedder.encode(model, sample, ids, budget)
    _sync()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        embedder.encode(model, sample, ids, budget)
        _sync()
    events = [e for e in prof.key_averages() if e.device_time_total > 0]
    total = sum(e.self_device_time_total for e in events) or 1
    events.sort(key=lambda e: -e.self_device_time_total)
    return [{"kernel": e.key[:90], "pct": round(100 * e.self_device_time_total / total, 1), "calls": e.count}
            for e in events[:top]]


def baseline_esm(esm_cfg, tokens: list[list[int]], budget: int) -> dict:
    """transformers EsmModel fp16 + SDPA on length-sorted padded batches of <= budget padded tokens."""
    import transformers

    hf_cfg = transformers.EsmConfig(vocab_size=33, hidden_size=esm_cfg.embed_dim, num_hidden_layers=esm_cfg.num_layers,
                                    num_attention_heads=esm_cfg.attention_heads, intermediate_size=esm_cfg.ffn_dim,
                                    mask_token_id=32, pad_token_id=1, layer_norm_eps=1e-5,
                                    position_embedding_type="rotary", token_dropout=True,
                                    emb_layer_norm_before=False, hidden_dropout_prob=0.0,
                                    attention_probs_dropout_prob=0.0, attn_implementation="sdpa")
    with torch.device("cuda"):
        model = transformers.EsmModel(hf_cfg, add_pooling_layer=False).half().eval()
    order = sorted(range(len(tokens)), key=lambda i: -len(tokens[i]))
    batches, cur = [], []
    for i in order:
        if cur and len(tokens[cur[0]]) * (len(cur) + 1) > budget:
            batches.append(cur)
            cur = []
        cur.append(i)
    batches.append(cur)

    def run(bs):
        for b in bs:
            L = len(tokens[b[0]])
            ids = torch.full((len(b), L), 1, dtype=torch.long)
            for j, i in enumerate(b):
                ids[j, : len(tokens[i])] = torch.tensor(tokens[i])
            ids = ids.cuda(non_blocking=True)
            with torch.inference_mode():
                h = model(input_ids=ids, attention_mask=(ids != 1).long()).last_hidden_state
                h.float().mean(1)

    run(batches[:3])
    _sync()
    t = time.perf_counter()
    run(batches)
    _sync()
    sec = time.perf_counter() - t
    n_tok = sum(len(x) for x in tokens)
    return {"frames": len(tokens), "tokens": n_tok, "seconds": round(sec, 3), "tokens_per_s": round(n_tok / sec)}


def precision_report(masters, tok, frames, engine_kwargs) -> dict:
    """fp16 / bf16 pooled embeddings vs the fp32 path of the same engine on a sample of frames."""
    from virnucpro.engine.embedder import EngineConfig, Embedder

    esm32, dna32 = masters
    ids, nucs, prots = frames
    ref = Embedder(dna32, tok, esm32, EngineConfig(dtype=torch.float32, attention="sdpa", **engine_kwargs))
    t = ref.tokenize(ids, nucs, prots)
    want = {"dnabert": ref.encode(ref.dnabert, t.dna, ids, 16384), "esm": ref.encode(ref.esm, t.protein, ids, 16384)}
    report = {}
    for name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
        low = Embedder(copy.deepcopy(dna32), tok, copy.deepcopy(esm32), EngineConfig(dtype=dtype, **engine_kwargs))
        got = {"dnabert": low.encode(low.dnabert, t.dna, ids, 16384), "esm": low.encode(low.esm, t.protein, ids, 16384)}
        for enc in ("dnabert", "esm"):
            cos = torch.nn.functional.cosine_similarity(got[enc], want[enc], dim=1)
            rel = ((got[enc] - want[enc]).norm(dim=1) / want[enc].norm(dim=1))
            report[f"{enc}_{name}"] = {"mean_cosine": round(float(cos.mean()), 6), "min_cosine": round(float(cos.min()), 6),
                                       "max_rel_error": round(float(rel.max()), 5)}
        del low
        torch.cuda.empty_cache()
    return report


def e2e_predict(embedder, n_reads: int, tmp: Path) -> dict:
    """`predict` end to end (parse, prepare, tokenise, both encoders, classify, write) on W150 reads, with where
    the time went: the run's stage seconds and the GPU's idle seconds (wall time outside its batches)."""
    from virnucpro.pipeline import run as predict_run
    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.testing.synthetic import write_reads

    src = tmp / "e2e.fa"
    write_reads(src, n_reads, seed=21)
    clf = MLPClassifier(embedder.feature_dim).eval()
    cfg = predict_run.PredictConfig(inputs=[str(src)], output_dir=tmp / "e2e_out", force=True, device="cuda",
                                    precision="fp16", progress=False)
    embedder.timeline = []
    torch.cuda.synchronize()
    t = time.perf_counter()
    info = predict_run.run(cfg, preloaded=(embedder, clf))
    sec = time.perf_counter() - t
    frames = info["counts"]["frames"]
    return {"reads": n_reads, "frames": frames, "seconds": round(sec, 2), "frames_per_s": round(frames / sec, 1),
            "stage_seconds": info["seconds"], "units": info["plan"]["units"],
            "unit_frames": info["plan"]["unit_frames"], "gpu": gpu_idle(embedder, sec),
            "minutes_per_million_reads": round(sec / n_reads * 1e6 / 60, 2)}


def gpu_idle(embedder, wall_s: float) -> dict:
    """From the engine's per-batch events: GPU-busy seconds, idle between the first and last batch (waiting for the
    host) by where it falls, and idle outside them (scan, first unit's preparation, assembly); stops recording."""
    torch.cuda.synchronize()
    events, embedder.timeline = embedder.timeline or [], None
    if not events:
        return {"batches": 0, "busy_s": 0.0, "idle_s": round(wall_s, 2)}
    busy = sum(a.elapsed_time(b) for a, b, *_ in events) / 1e3
    span = events[0][0].elapsed_time(events[-1][1]) / 1e3
    gaps: dict[str, float] = {}
    for (_, prev_end, prev_enc, _), (start, _, enc, n) in zip(events, events[1:]):
        where = ("unit start" if enc == "dnabert" and n == 0 else f"{prev_enc}->{enc}" if n == 0 else f"within {enc}")
        gaps[where] = gaps.get(where, 0.0) + prev_end.elapsed_time(start) / 1e3
    return {"batches": len(events), "busy_s": round(busy, 2), "idle_between_batches_s": round(span - busy, 2),
            "idle_between_batches_by_place_s": {k: round(v, 3) for k, v in gaps.items()},
            "idle_outside_batches_s": round(wall_s - span, 2), "idle_s": round(wall_s - busy, 2),
            "busy_fraction": round(busy / wall_s, 4)}


def save_result(result: dict, out: Path, t0: float) -> None:
    """Add peak GPU memory and the run's seconds to `result` and write it as JSON to `out`."""
    import json

    result["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
