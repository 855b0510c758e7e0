"""`virnucpro check-precision`: how much each fast-mode rung (all four ESM-2 linears in fp8, then fc1+fc2 only)
changes embeddings, scores and calls on the user's own data and models, against the default fp16 path, on a
deterministic sample of whole chunks. Exit status 1 when no rung but fp16 is fit (for scripts)."""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.models.store import ModelRefs, home_dir, resolve_all
from virnucpro.pipeline.precision_check import (MAX_CHUNK_CHANGES, MIN_P1_COSINE, Sample, compare,  # noqa: F401
                                                verdict_line)
from virnucpro.pipeline.precision_check import sample_frames as _sample
from virnucpro.io.seqio import read_inputs
from virnucpro.argtypes import int_in
from virnucpro import argtypes as A
from virnucpro.commands import flags

log = logging.getLogger("virnucpro")


@dataclass
class CheckConfig:
    """Parameters of `virnucpro check-precision`."""

    inputs: list[str]
    chunk_size: int = 500
    paired: bool = False
    models: ModelRefs = field(default_factory=ModelRefs)
    model_dir: Path | None = None
    offline: bool = False
    device: str = "auto"
    precision: str = "fp8"  # the fast mode to check against fp16
    frames: int = 4000  # sample size (whole chunks, spread evenly over the input)
    threads: int = 0
    json_out: Path | None = None
    linear: str = "fp8"  # fp8; tests on CPU use fp8_reference (same quantisation, fp32 products)


def run(cfg: CheckConfig) -> dict:
    """Sample, embed with fp16 and with each fast rung, compare; prints the report and returns it.

    The report's top level is the all-fp8 rung (as before the ladder); `ladder` holds every rung and
    `chosen` the first fit one (`fp16` when none is).
    """
    from virnucpro.cpus import effective_threads

    threads = effective_threads(cfg.threads)
    device = _device(cfg)
    paths = resolve_all(cfg.models, cfg.chunk_size, home_dir(cfg.model_dir), cfg.offline)
    sample = sample_frames(cfg, threads)
    if not sample.ids:
        from virnucpro.errors import InputError

        raise InputError("the input has no frame to compare (no chunk keeps a stop-free frame): nothing to check")
    log.info("comparing fp16 and the fast-mode rungs on %d frames of %d chunks (of %d frames in the input) on %s",
             len(sample.ids), len(set(sample.chunk)), sample.input_frames, device)
    chosen, tried = _climb(cfg, paths, device, sample, threads)
    report = {**tried[0], "precision": cfg.precision, "device": device, "frames_in_input": sample.input_frames,
              "ladder": tried, "chosen": chosen}
    print(format_report(report))
    if cfg.json_out is not None:
        from virnucpro.atomic import write_atomic

        write_atomic(Path(cfg.json_out), json.dumps(report, indent=2) + "\n")
    return report


def _device(cfg: CheckConfig) -> str:
    from virnucpro.pipeline.devices import check_fp8, parse_devices, resolve_devices

    device = resolve_devices(parse_devices(cfg.device))[0]
    if cfg.linear == "fp8":
        check_fp8([device], "check-precision", "run it on a GPU with compute capability 8.9+ (Ada, Hopper, later; "
                  "--device cuda:N picks one); elsewhere there is no fast mode to check: use the default precision")
    return device


def sample_frames(cfg: CheckConfig, threads: int = 1) -> Sample:
    """Every k-th chunk that keeps frames (all its frames), k chosen so that about `cfg.frames` are taken."""
    first = iter([True])  # the sampler may read the input twice: say what was skipped once
    return _sample(lambda: read_inputs(cfg.inputs, 4096, None, threads, cfg.paired, next(first, False)),
                   cfg.chunk_size, cfg.frames)


def _climb(cfg: CheckConfig, paths, device: str, s: Sample, threads: int) -> tuple[str, list[dict]]:
    """(the first fit rung, every rung's comparison), on one loading of the models (eager blocks)."""
    import torch

    from virnucpro.pipeline.devices import resolve_precision
    from virnucpro.pipeline.precision_check import climb
    from virnucpro.pipeline.worker import WorkerConfig, load_models

    wcfg = WorkerConfig(device=device, precision=resolve_precision("auto", device), out_dir=Path("."),
                        models=paths, threads=threads, compile="off")
    embedder, clf = load_models(wcfg)
    chosen, tried = climb(embedder, clf, s, cfg.linear, every_rung=True)
    del embedder
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return chosen.name, tried


def format_report(r: dict) -> str:
    """A short table per rung and the plain verdict lines."""
    lines = [f"check-precision: the fast mode against fp16 on {r['frames']:,} frames in {r['chunks']:,} chunks "
             f"({r['device']})"]
    for rung in r.get("ladder", [r]):
        c = rung["esm_cosine"]
        pct_f = 100 * rung["frames_call_changed"] / max(rung["frames"], 1)
        pct_c = 100 * rung["chunks_call_changed"] / max(rung["chunks"], 1)
        lines += [f"  {rung.get('variant', r.get('precision', 'fp8'))}:",
                  f"    ESM-2 embedding cosine   mean {c['mean']:.6f}   1st percentile {c['p1']:.6f}   min {c['min']:.6f}",
                  f"    virus score difference   max {rung['max_score_difference']:.2e}   mean "
                  f"{rung['mean_score_difference']:.2e}",
                  f"    calls changed            frames {rung['frames_call_changed']} ({pct_f:.2f}%)   chunks "
                  f"{rung['chunks_call_changed']} ({pct_c:.2f}%)",
                  f"    VERDICT: {verdict_line(rung)}"]
    chosen = r.get("chosen")
    if chosen is not None:
        lines.append(f"use: --precision fp8 picks {chosen} on this data" if chosen != "fp16" else
                     "use fp16: no fast-mode rung is fit for this data (exit status 1)")
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = flags.subparser(sub, "check-precision", "measure how much --precision fp8 changes results on your data (exit 1: use fp16)",
                      "Embed a deterministic sample of the input's chunks with fp16 and with the fast "
                      "mode, using your models, and report embedding cosine, score differences and "
                      "changed calls, with a verdict. Results go to stdout.")
    flags.input_args(p)
    flags.model_args(p)
    p.add_argument("--precision", choices=["fp8"], default="fp8", help="the fast mode to check against fp16")
    p.add_argument("--frames", type=int_in(*A.FRAMES), default=4000, help="frames to compare (whole chunks, spread "
                   "evenly over the input)")
    p.add_argument("--device", type=flags.device_arg, default="auto", help="the GPU to use (auto: the first one torch sees)")
    p.add_argument("--json", type=Path, default=None, dest="json_out", help="also write the report as JSON here")
    p.add_argument("--threads", type=flags.threads_arg, default=0, help="CPU threads for decompression; 0 = every core "
                   "this job may use")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    report = run(CheckConfig(
        inputs=args.inputs, paired=args.paired, chunk_size=args.chunk_size, models=flags.model_refs(args),
        model_dir=args.model_dir, offline=args.offline, device=args.device, precision=args.precision,
        frames=args.frames, threads=args.threads, json_out=args.json_out))
    return 1 if report["chosen"] == "fp16" else 0  # scripts: no fast rung is fit for this data
