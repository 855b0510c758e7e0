"""--threads on a shared machine: predict on the CPU with 1, 2, ... threads, alternating, under whatever load there is.

Models: ESM-2 shaped like esm2_t6_8M (6 layers, 320 wide) and a small DNABERT, random weights in the
published formats; input: W150 reads. Each run is a fresh `virnucpro predict` process; prints one
JSON line per run (threads, seconds, frames/s, the load average and the other processes' running
threads before it), then the median frames/s per thread count.

    PYTHONPATH=src python bench/bench_cpu_threads.py --reads 1000 --threads 1,2 --rounds 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=1000)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    from virnucpro.cpus import others_running
    from virnucpro.models.dnabert import DnaBertConfig
    from virnucpro.models.esm2 import ESM2Config
    from virnucpro.testing.factory import write_tiny_models
    from virnucpro.testing.synthetic import write_reads

    rates: dict[int, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        m = write_tiny_models(root / "models", esm_cfg=ESM2Config(num_layers=6, embed_dim=320, attention_heads=20),
                              dnabert_cfg=DnaBertConfig(vocab_size=512, hidden_size=192, num_hidden_layers=4,
                                                        num_attention_heads=3, intermediate_size=768))
        src = root / "reads.fa"
        write_reads(src, args.reads, seed=3)
        for r in range(args.rounds):
            for n in map(int, args.threads.split(",")):
                out = root / f"out_{n}_{r}"
                load, others = os.getloadavg()[0], others_running()
                t = time.perf_counter()
                subprocess.run([sys.executable, "-m", "virnucpro", "predict", str(src), "-o", str(out), "--esm",
                                str(m.esm_dir), "--dnabert", str(m.dnabert_dir), "--classifier", str(m.classifier),
                                "--offline", "--model-dir", str(root / "cache"), "--device", "cpu", "--threads",
                                str(n), "-q"], check=True)
                sec = time.perf_counter() - t
                frames = json.loads((out / "run_info.json").read_text())["counts"]["frames"]
                rates.setdefault(n, []).append(frames / sec)
                print(json.dumps({"threads": n, "round": r, "frames": frames, "seconds": round(sec, 1),
                                  "frames_per_s": round(frames / sec, 1), "load_1min": round(load, 2),
                                  "others_running": others}), flush=True)
    print(json.dumps({"median_frames_per_s": {n: round(statistics.median(v), 1) for n, v in rates.items()},
                      "cpus": os.cpu_count()}))


if __name__ == "__main__":
    main()
