"""Start-up anatomy only: a 20-read predict with full-size models, cold then warm (--compile auto, then on).

    PYTHONPATH=src PYTHONPYCACHEPREFIX=/tmp/pycache python bench/bench_startup.py [--device cuda] [--out DIR]

Writes full-size random-weight ESM-2 3B (fp32 safetensors, ~11 GB) and DNABERT-S to a temporary directory
(removed afterwards), prints one table per compile mode and writes startup.json to --out (default $OUT, else
bench/results). `--tiny` uses the tiny test models instead (a CPU smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def main() -> int:
    from virnucpro.benchmarking.gpu import _commit
    from virnucpro.benchmarking.startup import run_startup, table, write_full_size_models

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--reads", type=int, default=20)
    p.add_argument("--warm-runs", type=int, default=2)
    p.add_argument("--modes", default="auto,on", help="--compile values to measure, each cold then warm (auto: a "
                   "20-read run stays eager; on: compiled, kernels from the cache when warm)")
    p.add_argument("--tiny", action="store_true", help="tiny test models (CPU smoke run)")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "bench/results"))
    args = p.parse_args()
    t0 = time.perf_counter()
    import torch

    result = {"commit": _commit(), "device": args.device, "torch": torch.__version__, "modes": {},
              "gpu": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"}
    with tempfile.TemporaryDirectory(prefix="virnucpro-startup-") as tmp:
        root = Path(tmp)
        if args.tiny:
            from virnucpro.testing.factory import write_tiny_models

            tiny = write_tiny_models(root / "models")
            models = {"esm": tiny.esm_dir, "dnabert": tiny.dnabert_dir, "classifier": tiny.classifier}
        else:
            models = write_full_size_models(root / "models", args.device)
        result["models_written_seconds"] = round(time.perf_counter() - t0, 1)
        for mode in args.modes.split(","):
            r = run_startup(args.device, args.reads, root / f"compile-{mode}", mode, args.warm_runs, models,
                            root / "pycache")
            result["modes"][mode] = r
            print(f"--compile {mode}: {args.reads}-read predict, seconds by phase (cold: fresh model cache)")
            print(table(r), flush=True)
            _write(args.out, result, t0)  # after each mode: a run cut short keeps what it measured
    _write(args.out, result, t0)
    print(f"written {args.out / 'startup.json'} ({result['seconds']} s in all)")
    return 0


def _write(out: Path, result: dict, t0: float) -> None:
    result["seconds"] = round(time.perf_counter() - t0, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "startup.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
