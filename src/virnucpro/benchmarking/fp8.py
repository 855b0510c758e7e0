"""`virnucpro benchmark --fp8`: the fast mode against fp16 in one process, on full-size random weights.

Reports the sustained fp16 and FP8 (rowwise-scaled e4m3) matmul ceilings of this GPU; ESM-2 3B
tokens/s, TFLOP/s and share of the matching ceiling for fp16 and fp8 on W500 contigs, W150 reads
and a mixed workload; `predict` end to end in both modes; and the agreement report (embedding cosine
to fp32, score differences, changed calls) on these random-weight models, which lack the outlier
activations of trained ones: on real models, measure with `virnucpro check-precision`.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from virnucpro.benchmarking import gpu as b

log = logging.getLogger("virnucpro")


@dataclass
class Fp8BenchConfig:
    """Sizes and parts of the fp8 benchmark."""

    encoder_frames: int = 12_000  # per workload
    agreement_frames: int = 512  # per workload (W500, W150)
    e2e_reads: int = 50_000
    parts: list[str] = field(default_factory=lambda: ["agreement", "encoders", "e2e"])
    out: Path = Path("bench/results/fp8.json")


def sustained_fp8_ceiling(seconds: float = 10.0, n: int = 8192) -> dict:
    """Rowwise-scaled e4m3 `_scaled_mm` TFLOP/s under sustained load (see `benchmark.sustained_rate`)."""
    a = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn)
    w = torch.randn(n, n, device="cuda").to(torch.float8_e4m3fn)
    sa, sw = torch.ones(n, 1, device="cuda"), torch.ones(1, n, device="cuda")
    return b.sustained_rate(lambda: torch._scaled_mm(a, w.t(), scale_a=sa, scale_b=sw, out_dtype=torch.bfloat16),
                            2 * n**3, seconds)


def mixed_workload(work: dict, n: int) -> tuple[list[str], list[str], list[str]]:
    """Half W150 read frames, half W500 contig frames, shuffled with a fixed seed."""
    rows = [r for wl in ("W150", "W500") for r in zip(*(x[: n // 2] for x in work[wl]))]
    random.Random(5).shuffle(rows)
    return tuple(list(col) for col in zip(*rows))


def agreement(masters, tok, frames: dict, esm_budget: int) -> dict:
    """fp16 and fp8 pooled ESM-2 embeddings vs fp32 (cosine: mean, 1st percentile, min), and the
    fp8-vs-fp16 report of check-precision with a seeded random classifier (eager blocks)."""
    from virnucpro.pipeline.precision_check import compare
    from virnucpro.engine.embedder import Embedder, EngineConfig
    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.models.fp8 import quantize_esm

    esm32, dna32 = masters
    out = {}
    for wl, (ids, nucs, prots) in frames.items():
        ref = Embedder(dna32, tok, esm32, EngineConfig(device="cuda", dtype=torch.float32, attention="sdpa"))
        t = ref.tokenize(ids, nucs, prots)
        want = ref.encode(ref.esm, t.protein, ids, 16384)  # (N, D) fp32 reference
        low = Embedder(copy.deepcopy(dna32), tok, copy.deepcopy(esm32), EngineConfig(device="cuda", dtype=torch.float16,
                                                                                     esm_batch_tokens=esm_budget))
        base = low.features(t)
        quantize_esm(low.esm)
        low.esm.use_linear("fp8")
        fast = low.features(t)
        d = low.esm.cfg.embed_dim
        row = {name: _cosine(got[:, -d:].to(want.device), want) for name, got in (("fp16", base), ("fp8", fast))}
        torch.manual_seed(0)
        clf = MLPClassifier(base.shape[1]).eval()
        chunks = [i[:-2] for i in ids]  # a frame ID is its chunk's ID + F1..R3
        index = {c: k for k, c in enumerate(dict.fromkeys(chunks))}
        chunk = np.array([index[c] for c in chunks])
        row["fp8_vs_fp16_random_classifier"] = compare(base, fast, clf, chunk, d)
        out[wl] = row
        del ref, low
        torch.cuda.empty_cache()
    return out


def _cosine(got: torch.Tensor, want: torch.Tensor) -> dict:
    cos = torch.nn.functional.cosine_similarity(got.double(), want.double(), dim=1)
    return {"mean": round(float(cos.mean()), 6), "p1": round(float(torch.quantile(cos, 0.01)), 6),
            "min": round(float(cos.min()), 6)}


def encoders(engine, work: dict, budget: int, ceilings: dict) -> dict:
    """ESM-2 throughput per workload: fp16 first, then the same engine switched to fp8 (recompiled)."""
    from virnucpro.models.fp8 import quantize_esm

    rows: dict = {}
    for mode in ("fp16", "fp8"):
        if mode == "fp8":
            quantize_esm(engine.esm)
            engine.esm.use_linear("fp8")
        for wl, (ids, nucs, prots) in work.items():
            t = engine.tokenize(ids, nucs, prots)
            engine.encode(engine.esm, t.protein, ids, budget)  # full warm-up: every shape bucket compiled first
            m = b.time_encoder(engine, "esm", t.protein, ids, budget)
            m["pct_of_sustained_ceiling"] = round(100 * m["tflops"] / ceilings[mode]["tflops"], 1)
            rows.setdefault(wl, {})[mode] = m
            log.info("%s %s: %s", wl, mode, json.dumps(m))
    for wl, r in rows.items():
        r["fp8_speedup"] = round(r["fp8"]["tokens_per_s"] / r["fp16"]["tokens_per_s"], 3)
    engine.esm.use_linear("plain")
    return rows


def e2e(engine, n_reads: int, tmp: Path) -> dict:
    """`predict` on the same W150 reads in fp16 and in fp8 (a short warm-up run of each first)."""
    from virnucpro.pipeline import run as predict_run
    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.models.fp8 import quantize_esm
    from virnucpro.testing.synthetic import write_reads

    torch.manual_seed(1)
    clf = MLPClassifier(engine.feature_dim).eval()
    if not engine.esm.layers[0].fp8:
        quantize_esm(engine.esm)
    rows = {}
    for mode in ("fp16", "fp8"):
        engine.esm.use_linear("fp8" if mode == "fp8" else "plain")
        for name, n in (("warmup", 10_000), ("measured", n_reads)):
            src = tmp / f"e2e_{name}.fa"
            if not src.exists():
                write_reads(src, n, seed=21)
            cfg = predict_run.PredictConfig(inputs=[str(src)], output_dir=tmp / f"e2e_{mode}_{name}", force=True,
                                            device="cuda", precision=mode, progress=False)
            t = time.perf_counter()
            info = predict_run.run(cfg, preloaded=(engine, clf))
            sec = time.perf_counter() - t
        rows[mode] = {"reads": n_reads, "frames": info["counts"]["frames"], "seconds": round(sec, 2),
                      "frames_per_s": round(info["counts"]["frames"] / sec, 1),
                      "minutes_per_million_reads": round(sec / n_reads * 1e6 / 60, 2)}
    engine.esm.use_linear("plain")
    rows["fp8_speedup"] = round(rows["fp8"]["frames_per_s"] / rows["fp16"]["frames_per_s"], 3)
    same = [n for n in ("prediction_results_highestscore.csv",)
            if (tmp / "e2e_fp16_measured" / n).read_bytes() == (tmp / "e2e_fp8_measured" / n).read_bytes()]
    rows["chunk_calls_file_identical"] = bool(same)
    return rows


def run_fp8(cfg: Fp8BenchConfig, commit: str, command: str) -> dict:
    """Measure what `cfg.parts` asks; write cfg.out; print a table."""
    from virnucpro.engine.embedder import Embedder, EngineConfig, cast_for_inference, default_batch_tokens

    t0 = time.perf_counter()
    result: dict = {"benchmark": "fp8", "device": torch.cuda.get_device_name(), "torch": torch.__version__,
                    "commit": commit, "command": command, "parts": cfg.parts,
                    "weights": "random full-size (speed does not depend on weight values; agreement does)"}
    result["ceilings"] = {"fp16": b.sustained_matmul_ceiling(10.0), "fp8": sustained_fp8_ceiling(10.0)}
    esm_budget, dna_budget = default_batch_tokens("cuda")
    tmp = Path(tempfile.mkdtemp())
    work = {k: b.workload_frames(k, cfg.encoder_frames, tmp) for k in ("W500", "W150")}
    work["mixed"] = mixed_workload(work, cfg.encoder_frames)
    esm32, dna32, tok = b.build_models("cuda")
    if "agreement" in cfg.parts:
        frames = {k: tuple(x[: cfg.agreement_frames] for x in work[k]) for k in ("W500", "W150")}
        result["agreement_random_weights"] = agreement((esm32, dna32), tok, frames, esm_budget)
    esm16 = cast_for_inference(esm32, "cuda", torch.float16)
    dna16 = cast_for_inference(dna32, "cuda", torch.float16)
    engine = Embedder(dna16, tok, esm16, EngineConfig(device="cuda", dtype=torch.float16, esm_batch_tokens=esm_budget,
                                                      dnabert_batch_tokens=dna_budget, compile=True))
    if "encoders" in cfg.parts:
        result["esm"] = encoders(engine, work, esm_budget, result["ceilings"])
    if "e2e" in cfg.parts:
        result["e2e_W150"] = e2e(engine, cfg.e2e_reads, tmp)
    b.save_result(result, cfg.out, t0)
    print_table(result)
    return result


def print_table(r: dict) -> None:
    c = r["ceilings"]
    print(f"device {r['device']}  torch {r['torch']}  sustained ceilings: fp16 {c['fp16']['tflops']} TFLOP/s, "
          f"fp8 {c['fp8']['tflops']} TFLOP/s")
    for wl, row in r.get("esm", {}).items():
        for mode in ("fp16", "fp8"):
            m = row[mode]
            print(f"ESM-2 3B {wl:6} {mode:5} {m['tokens_per_s']:>9,} tok/s {m['frames_per_s']:>8,.0f} frames/s "
                  f"{m['tflops']:>7} TFLOP/s {m['pct_of_sustained_ceiling']:>5}% of ceiling")
        print(f"ESM-2 3B {wl:6} fp8 speed-up {row['fp8_speedup']}x")
    if "e2e_W150" in r:
        e = r["e2e_W150"]
        print(f"predict W150 {e['fp16']['reads']:,} reads: fp16 {e['fp16']['frames_per_s']} frames/s, fp8 "
              f"{e['fp8']['frames_per_s']} frames/s -> {e['fp8_speedup']}x")
    for wl, row in r.get("agreement_random_weights", {}).items():
        a = row["fp8_vs_fp16_random_classifier"]
        print(f"agreement {wl} (random weights): cosine to fp32 p1 fp16 {row['fp16']['p1']} fp8 {row['fp8']['p1']}; "
              f"fp8 vs fp16: {a['frames_call_changed']}/{a['frames']} frame calls, {a['chunks_call_changed']}/"
              f"{a['chunks']} chunk calls change, max score diff {a['max_score_difference']:.2e}")
