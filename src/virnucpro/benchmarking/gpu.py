"""`virnucpro benchmark`: full-size random-weight models on the GPU, realistic workloads, the real engine.

Reports per encoder tokens/s, frames/s, model TFLOP/s and % of a matmul ceiling measured here; the
ratio to a simple baseline (transformers `EsmModel`, fp16, SDPA, length-sorted padded batches) in
the same process; `predict` end to end on W150 reads; peak GPU memory and host RSS; and fp16/bf16
vs fp32 embedding agreement of the same engine.
"""

from __future__ import annotations

import copy
import json
import os
import logging
import resource
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

log = logging.getLogger("virnucpro")

ESM_PRESET = "esm2_t36_3B_UR50D"


@dataclass
class BenchConfig:
    """Sizes of the benchmark's workloads."""

    encoder_frames: int = 40_000  # frames per workload for encoder throughput
    baseline_frames: int = 8_000
    e2e_reads: int = 200_000
    precision_frames: int = 256
    esm_batch_tokens: int = 0
    dnabert_batch_tokens: int = 0
    compile: bool = True
    dnabert_attention: list[str] = field(default_factory=lambda: ["flex", "sdpa"])
    out: Path = Path("bench/results/gpu.json")
    device: str = "cuda"


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
    """`predict` end to end (parse, prepare, tokenise, both encoders, classify, write) on W150 reads."""
    from virnucpro.pipeline import run as predict_run
    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.testing.synthetic import write_reads

    src = tmp / "e2e.fa"
    write_reads(src, n_reads, seed=21)
    clf = MLPClassifier(embedder.feature_dim).eval()
    cfg = predict_run.PredictConfig(inputs=[str(src)], output_dir=tmp / "e2e_out", force=True, device="cuda",
                                    precision="fp16", progress=False)
    t = time.perf_counter()
    info = predict_run.run(cfg, preloaded=(embedder, clf))
    sec = time.perf_counter() - t
    frames = info["counts"]["frames"]
    return {"reads": n_reads, "frames": frames, "seconds": round(sec, 2), "frames_per_s": round(frames / sec, 1),
            "stage_seconds": info["seconds"], "minutes_per_million_reads": round(sec / n_reads * 1e6 / 60, 2)}


def run(cfg: BenchConfig) -> dict:
    """Build, measure, report. Returns the result dict (also written to cfg.out)."""
    from virnucpro.engine.embedder import EngineConfig, Embedder, cast_for_inference, default_batch_tokens

    t0 = time.perf_counter()
    result: dict = {"benchmark": "gpu", "device": torch.cuda.get_device_name(), "torch": torch.__version__,
                    "commit": _commit(), "config": {k: str(v) for k, v in asdict(cfg).items()}}
    result["matmul_ceiling_tflops"] = round(matmul_ceiling(), 1)
    result["sustained_matmul_ceiling"] = sustained_matmul_ceiling()
    esm_budget, dna_budget = default_batch_tokens("cuda")
    esm_budget, dna_budget = cfg.esm_batch_tokens or esm_budget, cfg.dnabert_batch_tokens or dna_budget
    result["batch_tokens"] = {"esm": esm_budget, "dnabert": dna_budget}
    tmp = Path(tempfile.mkdtemp())
    work = {k: workload_frames(k, cfg.encoder_frames, tmp) for k in ("W500", "W150")}
    esm32, dna32, tok = build_models(cfg.device)
    prec_frames = {k: tuple(x[: cfg.precision_frames] for x in v) for k, v in work.items()}
    result["precision"] = precision_report((esm32, dna32), tok, prec_frames["W500"], {"device": "cuda"})
    esm16 = cast_for_inference(copy.deepcopy(esm32), "cuda", torch.float16)
    dna16 = cast_for_inference(copy.deepcopy(dna32), "cuda", torch.float16)
    del esm32, dna32
    torch.cuda.empty_cache()
    engine = Embedder(dna16, tok, esm16, EngineConfig(device="cuda", dtype=torch.float16, esm_batch_tokens=esm_budget,
                                                      dnabert_batch_tokens=dna_budget, compile=cfg.compile))
    result["encoders"] = {}
    for wl, (ids, nucs, prots) in work.items():
        t = engine.tokenize(ids, nucs, prots)
        r = {"esm": time_encoder(engine, "esm", t.protein, ids, esm_budget)}
        if cfg.compile and wl == "W500":  # what compiling the per-token blocks buys (on a quarter of the frames)
            set_compiled(engine.esm, False)
            quarter = len(t.protein) // 4
            r["esm_eager_blocks"] = time_encoder(engine, "esm", t.protein[:quarter], ids, esm_budget)
            set_compiled(engine.esm, True)
        for att in cfg.dnabert_attention:
            engine.dnabert.attention_backend = att
            r[f"dnabert_{att}"] = time_encoder(engine, "dnabert", t.dna, ids, dna_budget)
        engine.dnabert.attention_backend = "auto"
        for m in r.values():
            m["mfu_pct"] = round(100 * m["tflops"] / result["matmul_ceiling_tflops"], 1)
            m["pct_of_sustained_ceiling"] = round(100 * m["tflops"] / result["sustained_matmul_ceiling"]["tflops"], 1)
        result["encoders"][wl] = r
        log.info("%s: %s", wl, json.dumps(r))
    ids, nucs, prots = work["W500"]
    t = engine.tokenize(ids, nucs, prots)
    result["profile_W500"] = {"esm": profile_batch(engine, "esm", t.protein, ids, esm_budget),
                              "dnabert": profile_batch(engine, "dnabert", t.dna, ids, dna_budget)}
    for which, rows in result["profile_W500"].items():
        for row in rows[:8]:
            log.info("profile %s: %5.1f%% %5d x %s", which, row["pct"], row["calls"], row["kernel"])
    t = engine.tokenize(ids[: cfg.baseline_frames], nucs[: cfg.baseline_frames], prots[: cfg.baseline_frames])
    ours = time_encoder(engine, "esm", t.protein, ids, esm_budget)
    base = baseline_esm(engine.esm.cfg, t.protein, esm_budget)
    result["baseline_W500"] = {"ours": ours, "transformers_fp16_sdpa": base,
                               "ratio": round(ours["tokens_per_s"] / base["tokens_per_s"], 2)}
    if cfg.e2e_reads:
        e2e = e2e_predict(engine, cfg.e2e_reads, tmp)
        e2e["fraction_of_esm_only_rate"] = round(e2e["frames_per_s"] / result["encoders"]["W150"]["esm"]["frames_per_s"], 3)
        result["e2e_W150"] = e2e
    result["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    result["host_peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    result["seconds"] = round(time.perf_counter() - t0, 1)
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    cfg.out.write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)
    return result


def print_table(r: dict) -> None:
    sus = r["sustained_matmul_ceiling"]
    print(f"device {r['device']}  torch {r['torch']}  matmul ceiling {r['matmul_ceiling_tflops']} TFLOP/s burst, "
          f"{sus['tflops']} sustained (clock, power: {sus['sm_clock_mhz_power_w']})")
    print(f"{'workload':8} {'encoder':14} {'tokens/s':>11} {'frames/s':>9} {'TFLOP/s':>8} {'MFU%':>5} {'sust%':>5} "
          f"{'peak GiB':>8}")
    for wl, encs in r["encoders"].items():
        for name, m in encs.items():
            print(f"{wl:8} {name:14} {m['tokens_per_s']:>11,} {m['frames_per_s']:>9,.0f} {m['tflops']:>8} "
                  f"{m['mfu_pct']:>5} {m['pct_of_sustained_ceiling']:>5} {m['peak_gpu_gib']:>8}")
    b = r["baseline_W500"]
    print(f"baseline (transformers fp16 SDPA, W500): {b['transformers_fp16_sdpa']['tokens_per_s']:,} tok/s; "
          f"ours {b['ours']['tokens_per_s']:,} -> {b['ratio']}x")
    if "e2e_W150" in r:
        e = r["e2e_W150"]
        print(f"predict e2e W150: {e['reads']} reads, {e['frames']} frames, {e['frames_per_s']} frames/s = "
              f"{e['fraction_of_esm_only_rate']} of ESM-only; {e['minutes_per_million_reads']} min per 1M reads")
    for k, v in r["precision"].items():
        print(f"precision {k}: mean cos {v['mean_cosine']}, min cos {v['min_cosine']}, max rel err {v['max_rel_error']}")


def _commit() -> str:
    """The commit measured: $VIRNUCPRO_COMMIT (set where the tree travels without .git), else git's."""
    if os.environ.get("VIRNUCPRO_COMMIT"):
        return os.environ["VIRNUCPRO_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


