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

import torch

from virnucpro.benchmarking.measure import (  # noqa: F401  (also re-exported for the fp8 benchmark and bench/)
    _clock_and_power, _sync, baseline_esm, build_models, dnabert_flops, e2e_predict, esm_flops, matmul_ceiling,
    precision_report, profile_batch, save_result, set_compiled, sustained_matmul_ceiling, sustained_rate, time_encoder,
    workload_frames)

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
    startup: bool = True  # cold and warm start-up of a 20-read predict, in fresh processes (before the GPU is busy)




def run(cfg: BenchConfig) -> dict:
    """Build, measure, report. Returns the result dict (also written to cfg.out)."""
    from virnucpro.engine.embedder import EngineConfig, Embedder, cast_for_inference, default_batch_tokens

    t0 = time.perf_counter()
    result: dict = {"benchmark": "gpu", "device": torch.cuda.get_device_name(), "torch": torch.__version__,
                    "commit": _commit(), "config": {k: str(v) for k, v in asdict(cfg).items()}}
    if cfg.startup:
        from virnucpro.benchmarking.startup import run_startup

        result["startup"] = run_startup(cfg.device)
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
    result["host_peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    save_result(result, cfg.out, t0)
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
        stages = ", ".join(f"{k} {v}" for k, v in e["stage_seconds"].items())
        g = e["gpu"]
        print(f"  where the {e['seconds']} s went: {stages}; {e['units']} units of {e['unit_frames']} frames")
        print(f"  GPU: busy {g['busy_s']} s in {g['batches']} batches, idle {g['idle_s']} s "
              f"({g.get('idle_between_batches_s')} between batches: {g.get('idle_between_batches_by_place_s')}; "
              f"{g.get('idle_outside_batches_s')} before/after)")
    for k, v in r["precision"].items():
        print(f"precision {k}: mean cos {v['mean_cosine']}, min cos {v['min_cosine']}, max rel err {v['max_rel_error']}")
    if "startup" in r:
        from virnucpro.benchmarking.startup import table

        print(f"start-up of a {r['startup']['reads']}-read predict (seconds; cold: fresh model cache):")
        print(table(r["startup"]))


def _commit() -> str:
    """The commit measured: $VIRNUCPRO_COMMIT (set where the tree travels without .git), else git's."""
    if os.environ.get("VIRNUCPRO_COMMIT"):
        return os.environ["VIRNUCPRO_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


