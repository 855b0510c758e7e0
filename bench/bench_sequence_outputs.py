"""Benchmark the sequence files on the CPU side: the finish stage's re-read of the input, the selection per work
unit and viral.fq / regions.fa / regions.gff3 (the input hashed as it is re-read, as a run does; the plain re-read
is timed beside it), on a synthetic FASTQ of 1M 150-nt reads, with 10% and with 100% of
the reads called virus (the worst case), in units of 31,250 reads (32 units, as the GPU plan makes them).

Wall and CPU (this process) seconds are both recorded: on a shared machine the wall time includes waiting for
the disk (atomic writes are fsynced) and for other processes. The unit files hold only the per-sequence rows
the writers read; the time is compared with a GPU run of the same reads (README, "Performance": 14.3 min per
million 150-nt reads on one H100).

Usage: python bench/bench_sequence_outputs.py [--reads 1000000] [--out bench/results/sequence_outputs_cpu.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GPU_SECONDS_PER_MILLION = 14.3 * 60  # README, "Performance": predict end to end on one H100


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"


def write_fastq(path: Path, n: int, length: int = 150) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    acgt = np.frombuffer(b"ACGT", np.uint8)
    with open(path, "wb") as fh:
        for lo in range(0, n, 100_000):
            m = min(100_000, n - lo)
            seqs = acgt[rng.integers(0, 4, (m, length))]
            quals = rng.integers(35, 74, (m, length)).astype(np.uint8)
            fh.write(b"".join(b"@read_%d 1:N:0:ACGT\n%s\n+\n%s\n" % (lo + i, s.tobytes(), q.tobytes())
                              for i, (s, q) in enumerate(zip(seqs, quals))))


def fake_units(out, n: int, per_unit: int, viral_every: int):
    """Unit files with S rows only (what the writers read) and their plans."""
    from virnucpro.pipeline.workunits import UnitPlan, unit_path

    out.units.mkdir(parents=True, exist_ok=True)
    plans = []
    for k, lo in enumerate(range(0, n, per_unit)):
        ids = range(lo, min(n, lo + per_unit))
        rows = "".join(f"S\tread_{i}\t150\t1\t1\t1\t1\t0.9\t0.9\t{'virus' if i % viral_every == 0 else 'others'}\n"
                       for i in ids)
        unit_path(out.units, k).write_text(rows)
        plans.append(UnitPlan(k, 0, 0, len(ids), ""))
    out.regions.write_text("seq_id\tregion\tstart\tend\tlength\tn_chunks\tn_viral_chunks\tmean_virus_score\n")
    return plans


def measure(fastq: Path, n: int, viral_every: int) -> dict:
    from virnucpro.io.hashing import sha256_file
    from virnucpro.io.source_records import source_records
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.writers.sequences import Source, write_sequence_files

    root = Path(tempfile.mkdtemp(prefix="seqout-"))
    try:
        out = OutputPaths(root)
        plans = fake_units(out, n, 31_250, viral_every)
        info = {"parameters": {"sequences": True, "min_region_length": 1000}}
        virus = len(range(0, n, viral_every))
        t0, c0 = time.perf_counter(), time.process_time()
        reread = sum(1 for _ in source_records([str(fastq)]))
        t1, c1 = time.perf_counter(), time.process_time()
        t_plain = (t1 - t0, c1 - c0)
        digest = sha256_file(fastq)
        th, ch = time.perf_counter(), time.process_time()
        hashed = sum(1 for _ in source_records([str(fastq)], digests=[digest]))  # as the run reads it (checked)
        t1h, c1h = time.perf_counter(), time.process_time()
        t1, c1 = t1h, c1h
        files = write_sequence_files(out, info, plans, Source([str(fastq)], False, digests=[digest]), virus, 0)
        t2, c2 = time.perf_counter(), time.process_time()
        assert reread == hashed == n and files["viral.fq"] == virus, (reread, hashed, files)
        gpu = GPU_SECONDS_PER_MILLION * n / 1e6
        return {"viral_share": 1 / viral_every, "reread_only_wall_s": round(t_plain[0], 2),
                "reread_only_cpu_s": round(t_plain[1], 2), "reread_hashed_wall_s": round(t1h - th, 2),
                "reread_hashed_cpu_s": round(c1h - ch, 2), "finish_sequence_files_wall_s": round(t2 - t1, 2),
                "finish_sequence_files_cpu_s": round(c2 - c1, 2), "viral_fq_bytes": (root / "viral.fq").stat().st_size,
                "cpu_share_of_gpu_run": round((c2 - c1) / gpu, 5), "wall_share_of_gpu_run": round((t2 - t1) / gpu, 5)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reads", type=int, default=1_000_000)
    ap.add_argument("--out", default="bench/results/sequence_outputs_cpu.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="seqout-in-"))
    try:
        fastq = tmp / "reads.fq"
        write_fastq(fastq, args.reads)
        runs = [measure(fastq, args.reads, every) for every in (10, 1)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"command": " ".join(sys.argv), "commit": _commit(), "reads": args.reads, "read_length": 150, "machine": platform.processor() or platform.machine(),
              "python": platform.python_version(), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
              // 1024, "gpu_seconds_for_these_reads": GPU_SECONDS_PER_MILLION * args.reads / 1e6, "runs": runs}
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
