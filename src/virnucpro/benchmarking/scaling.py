"""`virnucpro benchmark --devices LIST`: predict end to end on 1, 2, 4, ... of the listed devices.

Each step runs the whole `predict` (parse and prepare in the coordinator, one worker per device,
random full-size models built in every worker) on W150 reads, `reads_per_device` per device, all in
this process tree, and reports frames/s, the efficiency against one device, minutes per million
reads, and the coordinator's own CPU time and peak memory (the workers' are reported apart).
"""

from __future__ import annotations

import json
import resource
import tempfile
import time
from pathlib import Path


def device_counts(n: int) -> list[int]:
    """1, 2, 4, ... up to n, and n itself."""
    counts, k = [], 1
    while k < n:
        counts.append(k)
        k *= 2
    return counts + [n]


def run_scaling(devices: list[str], reads_per_device: int, out: Path, commit: str, command: str) -> dict:
    """Measure every prefix of `devices` in `device_counts`; writes and returns the result dict."""
    import torch

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in device_counts(len(devices)):
            rows.append(_step(devices[:k], reads_per_device * k, Path(tmp)))
            _print_row(rows[-1])
    base = rows[0]["frames_per_s"]
    for r in rows:
        r["efficiency"] = round(r["frames_per_s"] / (r["workers"] * base), 3)
    result = {"benchmark": "scaling", "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
              "gpus": torch.cuda.device_count(), "devices": devices, "reads_per_device": reads_per_device,
              "commit": commit, "command": command, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    return result


def _step(devices: list[str], n_reads: int, tmp: Path) -> dict:
    from virnucpro.pipeline import run as predict_run
    from virnucpro.testing.synthetic import write_reads

    src = tmp / f"w150_{n_reads}.fa"
    write_reads(src, n_reads, seed=21)
    cfg = predict_run.PredictConfig(inputs=[str(src)], output_dir=tmp / f"out_{len(devices)}", force=True,
                                    device=",".join(devices), precision="fp16", progress=False)
    before = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    info = predict_run.run(cfg, preloaded=predict_run.RandomWeights())
    sec = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_SELF)
    frames = info["counts"]["frames"]
    return {"workers": len(devices), "devices": devices, "reads": n_reads, "frames": frames, "seconds": round(sec, 2),
            "frames_per_s": round(frames / sec, 1),
            "steady_frames_per_s": round(sum(d["steady_frames_per_s"] or 0 for d in info["devices"]), 1),
            "minutes_per_million_reads": round(sec / n_reads * 1e6 / 60, 2),
            "coordinator_cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "coordinator_peak_rss_mib": round(after.ru_maxrss / 1024),
            "per_device": info["devices"], "stage_seconds": info["seconds"]}


def _print_row(r: dict) -> None:
    print(f"{r['workers']:>2} worker(s) {r['reads']:>9,} reads {r['frames']:>9,} frames {r['seconds']:>8.1f} s "
          f"{r['frames_per_s']:>9,.0f} frames/s (steady {r['steady_frames_per_s']:,.0f}) "
          f"{r['minutes_per_million_reads']:.2f} min/M reads  coordinator {r['coordinator_cpu_seconds']} CPU s, "
          f"{r['coordinator_peak_rss_mib']} MiB", flush=True)
