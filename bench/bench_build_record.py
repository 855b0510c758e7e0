"""The build record of a GPU run (pipeline/build.py), and what reading it costs the main process.

run_info.json's `build` names the GPU model and compute capability, read in the main process before the
workers start. This prints the record for every visible GPU and whether reading it left a CUDA context
(GPU memory) in the main process: `nvidia-smi` should not list this pid.

    python bench/bench_build_record.py
"""

from __future__ import annotations

import json
import os
import subprocess


def main() -> None:
    import torch

    from virnucpro.pipeline.build import build_record

    devices = [f"cuda:{i}" for i in range(torch.cuda.device_count())] or ["cpu"]
    record = build_record(devices)
    apps = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader"],
                          capture_output=True, text=True).stdout
    mine = [ln for ln in apps.splitlines() if ln.split(",")[0].strip() == str(os.getpid())]
    print(json.dumps({"build": record, "cuda_initialized": torch.cuda.is_initialized(),
                      "main_process_on_gpu": mine}, indent=2))


if __name__ == "__main__":
    main()
