"""Benchmark `virnucpro prepare` (parse + chunk + translate + write, one core) against a plain per-codon
Python implementation of the same rules, in the same process. Both record paths are timed: the compiled
one (default when built) and the numpy fallback (VIRNUCPRO_PURE_PYTHON=1). The baseline is timed on
pre-parsed records writing to /dev/null (no parsing, no disk): a conservative ratio.

Usage: python bench/bench_prepare.py [--reads 1000000] [--contigs 200000] [--out bench/results/prepare.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def time_prepare(path: Path, out: Path, cs: int, pure: bool) -> float:
    """Best of two runs into a fresh output directory."""
    import shutil

    from virnucpro.commands.prepare import PrepareConfig, run

    os.environ["VIRNUCPRO_PURE_PYTHON"] = "1" if pure else "0"
    best = float("inf")
    for _ in range(2):
        shutil.rmtree(out, ignore_errors=True)
        t0 = time.perf_counter()
        run(PrepareConfig(inputs=[str(path)], output_dir=out, chunk_size=cs, force=True, progress=False))
        best = min(best, time.perf_counter() - t0)
    os.environ.pop("VIRNUCPRO_PURE_PYTHON")
    return best


def time_baseline(path: Path, cs: int, max_records: int) -> tuple[float, int]:
    """Per-codon reference on the first `max_records` records, writing the same three files."""
    from virnucpro.io.fasta_out import format_oneline, format_wrapped
    from virnucpro.prep.reference import prepare_records
    from virnucpro.io.seqio import read_batches

    records, bases = [], 0
    for b in read_batches(str(path), 10000):
        records += zip(b.ids, b.seqs)
        if len(records) >= max_records:
            break
    records = records[:max_records]
    bases = sum(len(s) for _, s in records)
    t0 = time.perf_counter()
    with open(os.devnull, "w") as sink:
        for chunks, frames in prepare_records(records, cs):
            sink.write(format_wrapped([c[0] for c in chunks], [c[1] for c in chunks]))
            sink.write(format_oneline([f[0] for f in frames], [f[1] for f in frames]))
            sink.write(format_oneline([f[0] for f in frames], [f[2] for f in frames]))
    return time.perf_counter() - t0, bases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--contigs", type=int, default=200_000)
    ap.add_argument("--baseline-records", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=Path("bench/results/prepare.json"))
    args = ap.parse_args()
    from virnucpro.testing.synthetic import write_contigs, write_reads

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, writer, n, cs in [("W150 reads", write_reads, args.reads, 500),
                                    ("W500 contigs", write_contigs, args.contigs, 500)]:
            src = tmp / f"{name.split()[0]}.fa"
            bases = writer(src, n)
            sec = time_prepare(src, tmp / "out", cs, pure=False)
            pure_sec = time_prepare(src, tmp / "out", cs, pure=True)
            base_sec, base_bases = time_baseline(src, cs, args.baseline_records)
            ours, pure, base = bases / sec / 1e6, bases / pure_sec / 1e6, base_bases / base_sec / 1e6
            rows.append({"workload": name, "records": n, "bases": bases, "seconds": round(sec, 3),
                         "mbp_per_s": round(ours, 2), "numpy_path_mbp_per_s": round(pure, 2),
                         "baseline_mbp_per_s": round(base, 3), "speedup": round(ours / base, 1),
                         "numpy_path_speedup": round(pure / base, 1)})
    print(f"{'workload':14} {'records':>9} {'Mbp/s':>7} {'numpy path':>10} {'baseline':>9} {'speedup':>8}")
    for r in rows:
        print(f"{r['workload']:14} {r['records']:>9} {r['mbp_per_s']:>7} {r['numpy_path_mbp_per_s']:>10} "
              f"{r['baseline_mbp_per_s']:>9} {r['speedup']:>7}x")
    from virnucpro import compiled

    result = {"benchmark": "prepare", "compiled_path_built": compiled.prep() is not None, "device": f"CPU ({platform.processor() or platform.machine()}, 1 core used)",
              "python": platform.python_version(), "commit": _commit(),
              "command": "python bench/bench_prepare.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in
                                                                   vars(args).items() if k != "out"),
              "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
