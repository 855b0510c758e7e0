"""Soak test: `predict` on many W150 reads with full-size random models, sampling host RSS and GPU
memory every few seconds, to show neither grows over a long run.

Usage: python bench/bench_soak.py --reads 600000 --out bench/results/soak_h100.json
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import threading
import time
from pathlib import Path

import torch


def rss_mib() -> float:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def sample(samples: list, stop: threading.Event, t0: float, every: float) -> None:
    while not stop.wait(every):
        samples.append({"t": round(time.perf_counter() - t0, 1), "rss_mib": round(rss_mib()),
                        "gpu_alloc_mib": round(torch.cuda.memory_allocated() / 2**20),
                        "gpu_reserved_mib": round(torch.cuda.memory_reserved() / 2**20)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=600_000)
    ap.add_argument("--every", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=Path("bench/results/soak.json"))
    args = ap.parse_args()
    from virnucpro.commands import predict as cmd_predict
    from virnucpro.benchmarking.gpu import _commit, build_models
    from virnucpro.engine.embedder import EngineConfig, Embedder, default_batch_tokens
    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.testing.synthetic import write_reads

    tmp = Path(tempfile.mkdtemp())
    write_reads(tmp / "soak.fa", args.reads, seed=31)
    esm, dna, tok = build_models("cuda")
    esm_budget, dna_budget = default_batch_tokens("cuda")
    engine = Embedder(dna, tok, esm, EngineConfig(device="cuda", dtype=torch.float16, esm_batch_tokens=esm_budget,
                                                  dnabert_batch_tokens=dna_budget, compile=True))
    clf = MLPClassifier(engine.feature_dim).eval()
    samples: list = []
    stop = threading.Event()
    t0 = time.perf_counter()
    threading.Thread(target=sample, args=(samples, stop, t0, args.every), daemon=True).start()
    cfg = cmd_predict.PredictConfig(inputs=[str(tmp / "soak.fa")], output_dir=tmp / "out", force=True, device="cuda",
                                    precision="fp16", progress=False)
    info = cmd_predict.run(cfg, preloaded=(engine, clf))
    stop.set()
    steady = [s for s in samples if s["t"] > 60]  # after compilation and the first units
    result = {"benchmark": "soak", "device": torch.cuda.get_device_name(), "commit": _commit(),
              "command": f"PYTHONPATH=src python bench/bench_soak.py --reads {args.reads}",
              "reads": args.reads, "frames": info["counts"]["frames"], "seconds": info["seconds"]["total"],
              "rss_mib_first_last_max": [steady[0]["rss_mib"], steady[-1]["rss_mib"], max(s["rss_mib"] for s in steady)],
              "gpu_reserved_mib_first_last_max": [steady[0]["gpu_reserved_mib"], steady[-1]["gpu_reserved_mib"],
                                                  max(s["gpu_reserved_mib"] for s in steady)],
              "samples": samples}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"{args.reads} reads, {result['frames']} frames in {result['seconds']:.0f} s; "
          f"host RSS MiB first/last/max {result['rss_mib_first_last_max']}; "
          f"GPU reserved MiB first/last/max {result['gpu_reserved_mib_first_last_max']}")


if __name__ == "__main__":
    main()
