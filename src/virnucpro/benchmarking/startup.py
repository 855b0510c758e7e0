"""Start-up anatomy: a 20-read `predict` with full-size models in a fresh process, cold then warm, by phase.

The models are full-size ESM-2 3B and DNABERT-S with random weights (speed does not depend on the
values), written to a temporary directory in the published formats (ESM-2: an HF directory with an
fp32 model.safetensors, ~11 GB; DNABERT-S: config.json, pytorch_model.bin and tokenizer.json; the
classifier: a pickled `__main__.MLPClassifier`). Cold: a fresh model cache (no verification records,
no compiled kernels); warm: the same command again. Python's bytecode is cached first (an untimed
import), as an installed package has it. Each run is timed from outside (wall) and, inside, by phase:
the functions that do each part are wrapped with a timer that charges each second to one phase only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PHASES = ("interpreter", "imports", "resolve", "hash", "cuda_init", "read_weights", "checks", "to_device",
          "build_models", "compile_and_first_batch", "rest")

# phase <- (module, attribute) of the function whose (exclusive) time it is
TIMED = {
    "resolve": [("virnucpro.pipeline.run", "resolve")],  # inputs, devices, model paths
    "hash": [("virnucpro.pipeline.resolve", "_model_info")],  # sha256 of the model files (or their records)
    "cuda_init": [("torch.cuda", "_lazy_init")],  # the CUDA context (first GPU use; C++ calls it through Python)
    "read_weights": [("virnucpro.models.loaders", "read_state_file"), ("virnucpro.models.loaders", "safe_load")],
    "checks": [("virnucpro.models.weights", "check_zip_crc"), ("virnucpro.models.weights", "_sound"),
               ("virnucpro.models.weights", "check_finite"), ("virnucpro.engine.compile_cache", "verify"),
               ("virnucpro.engine.compile_cache", "seal")],
    "to_device": [("virnucpro.models.weights", "to_device"), ("virnucpro.engine.embedder", "cast_for_inference")],
    "build_models": [("virnucpro.pipeline.coordinator", "load_models")],  # the rest of loading: build, map, tokenizer
    "compile_and_first_batch": [("virnucpro.pipeline.worker", "UnitRunner.run")],  # 20 reads: one unit
}
PRELOAD = ("torch", "virnucpro.cli", "virnucpro.commands.predict", "virnucpro.pipeline.run",
           "virnucpro.pipeline.resolve", "virnucpro.pipeline.coordinator", "virnucpro.pipeline.worker",
           "virnucpro.models.loaders", "virnucpro.models.weights", "virnucpro.models.classifier",
           "virnucpro.engine.embedder", "virnucpro.engine.compile_cache", "virnucpro.io.hashing")
PRIME = PRELOAD + ("torch._dynamo", "torch._inductor.compile_fx", "torch._inductor.codecache",
                   "torch._inductor.codegen.triton", "torch._inductor.codegen.cpp",
                   "torch._inductor.runtime.triton_heuristics", "torch.nn.attention.flex_attention",
                   "safetensors.torch", "tokenizers", "triton", "numpy")


class PhaseClock:
    """Exclusive seconds per phase: time spent in a wrapped call nested inside another goes to the inner one."""

    def __init__(self) -> None:
        self.seconds = {p: 0.0 for p in PHASES}
        self._inner: list[float] = []

    def wrap(self, fn, phase: str):
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            self._inner.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                took = time.perf_counter() - t0
                self.seconds[phase] += took - self._inner.pop()
                if self._inner:
                    self._inner[-1] += took

        return timed


def child(out_json: str, argv: list[str]) -> None:
    """Inside the timed process: import, wrap the phase functions, run the CLI, write the phase seconds."""
    import importlib

    t0 = time.perf_counter()
    for name in PRELOAD:
        importlib.import_module(name)
    clock = PhaseClock()
    clock.seconds["imports"] = time.perf_counter() - t0
    for phase, targets in TIMED.items():
        for module, path in targets:
            holder = importlib.import_module(module)
            *owners, attr = path.split(".")
            for name in owners:
                holder = getattr(holder, name)
            setattr(holder, attr, clock.wrap(getattr(holder, attr), phase))
    from virnucpro.cli import main

    t1 = time.perf_counter()
    code = main(argv)
    _sync()
    clock.seconds["rest"] = (time.perf_counter() - t1) - sum(v for k, v in clock.seconds.items()
                                                             if k not in ("imports", "rest"))
    Path(out_json).write_text(json.dumps({"exit_code": code, "seconds": clock.seconds,
                                          "in_process": time.perf_counter() - t0}))


def prime() -> None:
    """Import every module a run needs, so that their bytecode is cached (PYTHONPYCACHEPREFIX)."""
    import importlib

    for name in PRIME:
        try:
            importlib.import_module(name)
        except Exception:  # capability probe: no Triton on CPU builds
            continue


def _sync() -> None:
    import torch

    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def write_full_size_models(root: Path, device: str) -> dict[str, Path]:
    """Full-size ESM-2 3B, DNABERT-S and a classifier with random weights, in their published on-disk formats."""
    from virnucpro.models.dnabert import DNABERT_S
    from virnucpro.models.esm2 import PRESETS
    from virnucpro.testing.factory import write_dnabert, write_esm_hf, write_legacy_classifier

    esm = PRESETS["esm2_t36_3B_UR50D"]
    paths = {"esm": write_esm_hf(root / "esm2_t36_3B_UR50D", esm, seed=0, device=device),
             "dnabert": write_dnabert(root / "DNABERT-S", DNABERT_S, seed=0),
             "classifier": write_legacy_classifier(root / "500_model.pth", DNABERT_S.hidden_size + esm.embed_dim)}
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()  # the timed runs get the whole GPU
    return paths


def _env(pycache: Path) -> dict[str, str]:
    """The child's environment: bytecode cached in `pycache`; inductor/Triton folders chosen by virnucpro."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _one_run(argv: list[str], env: dict, work: Path, name: str) -> dict:
    out = work / f"{name}.json"
    code = (f"from virnucpro.benchmarking.startup import child; child({str(out)!r}, {argv!r})")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"start-up run {name} failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    inside = json.loads(out.read_text())
    if inside["exit_code"] != 0:
        raise RuntimeError(f"start-up run {name}: predict exited {inside['exit_code']}: {proc.stderr[-2000:]}")
    seconds = inside["seconds"]
    seconds["interpreter"] = wall - inside["in_process"]
    return {"wall_seconds": round(wall, 2), "seconds": {k: round(seconds[k], 2) for k in PHASES},
            "log_tail": proc.stderr.strip().splitlines()[-6:]}


def run_startup(device: str = "cuda", reads: int = 20, work: Path | None = None, compile: str = "auto",
                warm_runs: int = 1, models: dict[str, Path] | None = None, pycache: Path | None = None) -> dict:
    """Write the models, then time a cold and `warm_runs` warm predicts of `reads` W150 reads. Returns the result.

    An untimed import of every module a run needs (torch's compiler included) comes first, so that Python's
    bytecode is cached in `pycache` (default: under `work`), as in an installed package. `models` (paths of
    "esm", "dnabert", "classifier") replaces the full-size ones (tests use tiny models).
    """
    from virnucpro.testing.synthetic import write_reads

    if work is None:  # ~12 GB of models: removed afterwards
        with tempfile.TemporaryDirectory(prefix="virnucpro-startup-") as tmp:
            return run_startup(device, reads, Path(tmp), compile, warm_runs, models, pycache)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    models = models or write_full_size_models(work / "models", device)
    written = time.perf_counter() - t0
    write_reads(work / "reads.fa", reads, seed=5)
    home = work / "home"  # fresh: no verification records, no compiled kernels
    env = _env(pycache or work / "pycache")
    subprocess.run([sys.executable, "-c", "from virnucpro.benchmarking.startup import prime; prime()"], env=env,
                   check=True)  # untimed: bytecode only

    def argv(k: int) -> list[str]:
        return ["predict", str(work / "reads.fa"), "-o", str(work / f"out{k}"), "--esm", str(models["esm"]),
                "--dnabert", str(models["dnabert"]), "--classifier", str(models["classifier"]), "--model-dir",
                str(home), "--device", device, "--compile", compile, "-q"]

    result = {"reads": reads, "device": device, "compile": compile, "models_written_seconds": round(written, 1),
              "model_bytes": {k: _size(p) for k, p in models.items()}, "cold": _one_run(argv(0), env, work, "cold")}
    for k in range(1, warm_runs + 1):
        result["warm" if k == 1 else f"warm{k}"] = _one_run(argv(k), env, work, f"warm{k}")
    result["compile_cache_bytes"] = _size(home / "compiled") if (home / "compiled").exists() else 0
    same = all((work / "out0" / f).read_bytes() == (work / f"out{k}" / f).read_bytes()
               for k in range(1, warm_runs + 1) for f in ("prediction_results.txt", "sequences.tsv"))
    result["warm_outputs_identical_to_cold"] = same
    return result


def _size(p: Path) -> int:
    return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def table(result: dict) -> str:
    """The anatomy as a plain-text table: one row per phase, one column per run."""
    runs = [k for k in result if k == "cold" or k.startswith("warm") and isinstance(result[k], dict)]
    lines = [f"{'phase':<26}" + "".join(f"{r:>10}" for r in runs)]
    for p in PHASES:
        lines.append(f"{p:<26}" + "".join(f"{result[r]['seconds'][p]:>10.2f}" for r in runs))
    lines.append(f"{'wall (total)':<26}" + "".join(f"{result[r]['wall_seconds']:>10.2f}" for r in runs))
    return "\n".join(lines)
