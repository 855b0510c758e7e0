"""Which on-disk format for per-frame embeddings (`extract`): safetensors shards vs Parquet, on the CPU.

Writes and reads N frames x (768 + 2560) float32 with their frame IDs both ways and prints bytes,
write and read seconds (full read into numpy, and reading one column block). Needs pyarrow for the
Parquet rows (not a virnucpro dependency).

Usage: python bench/bench_embedding_format.py [--frames 65536] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=65536)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.frames
    dna = rng.standard_normal((n, 768), dtype=np.float32)
    esm = rng.standard_normal((n, 2560), dtype=np.float32)
    ids = [f"read_{i}_chunk_1F{i % 3 + 1}" for i in range(n)]
    tmp = Path(tempfile.mkdtemp())
    rows = {}

    from safetensors.numpy import load_file, save_file

    t = time.perf_counter()
    save_file({"dnabert_s": dna, "esm2": esm}, str(tmp / "a.safetensors"), metadata={"ids": json.dumps(ids)})
    w = time.perf_counter() - t
    t = time.perf_counter()
    got = load_file(str(tmp / "a.safetensors"))
    r = time.perf_counter() - t
    assert np.array_equal(got["esm2"], esm)
    rows["safetensors"] = {"bytes": (tmp / "a.safetensors").stat().st_size, "write_s": round(w, 3), "read_s": round(r, 3)}

    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        rows["parquet"] = "pyarrow not installed"
    else:
        table = pa.table({"id": ids, "dnabert_s": pa.FixedSizeListArray.from_arrays(pa.array(dna.reshape(-1)), 768),
                          "esm2": pa.FixedSizeListArray.from_arrays(pa.array(esm.reshape(-1)), 2560)})
        for codec in ("none", "zstd"):
            path = tmp / f"b_{codec}.parquet"
            t = time.perf_counter()
            pq.write_table(table, path, compression=codec)
            w = time.perf_counter() - t
            t = time.perf_counter()
            back = pq.read_table(path)
            arr = back.column("esm2").combine_chunks().flatten().to_numpy().reshape(n, 2560)
            r = time.perf_counter() - t
            assert np.array_equal(arr, esm)
            rows[f"parquet_{codec}"] = {"bytes": path.stat().st_size, "write_s": round(w, 3), "read_s": round(r, 3)}
    for k, v in rows.items():
        print(f"{k:18} {v}")
    if args.out:
        Path(args.out).write_text(json.dumps({"frames": n, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
