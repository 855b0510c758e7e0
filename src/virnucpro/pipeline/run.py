"""predict and extract, one orchestrator: inputs -> models -> claim -> plan -> compute -> finish.

Each stage is a call into the module that owns it; this file only orders them. Resumable by work unit,
on one or several devices, whole or as one shard of a cluster run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from virnucpro.logs import run_log
from virnucpro.models.store import ModelRefs
from virnucpro.pipeline.assemble import finish, finish_extract, finish_shard
from virnucpro.pipeline.claim import already_complete, claim
from virnucpro.pipeline.coordinator import compute
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.ownership import check_inputs_survive
from virnucpro.pipeline.plan import first_or_none, say_nothing_to_compute, unit_frames_for, units_to_compute
from virnucpro.pipeline.precision_check import earlier_fast_mode, settle_fast_mode
from virnucpro.pipeline.resolve import RandomWeights, resolve, resume_parameters, worker_configs
from virnucpro.pipeline.run_info import new_info
from virnucpro.pipeline.scan import InputSet, scan, write_intermediate_fasta
from virnucpro.pipeline.workdir import check_output_dir, held_directory
from virnucpro.progress import progress_bar
from virnucpro.models.regions import DEFAULT_MIN_REGION_LENGTH
from virnucpro.signals import stop_on_signals
from virnucpro.stopwatch import Clock
from virnucpro.writers.sequences import Source

__all__ = ["PredictConfig", "RandomWeights", "run"]
log = logging.getLogger("virnucpro")


@dataclass
class PredictConfig:
    """Parameters of `virnucpro predict` (and `extract`, with `extract=True`), as the user gave them."""

    inputs: list[str]  # files read in order ('-' = stdin); with `paired`: R1 R2, or one interleaved file
    output_dir: Path
    chunk_size: int = 500
    models: ModelRefs = field(default_factory=ModelRefs)
    model_dir: Path | None = None
    offline: bool = False
    device: str = "auto"  # auto | cpu | cuda | cuda:N, or a comma-separated list: one worker per entry
    precision: str = "auto"
    threads: int = 0  # 0 = every core this process may use
    keep_intermediate: bool = False
    resume: bool = False
    force: bool = False
    unit_frames: int = 0  # 0 = auto: from the input's frame count (pipeline/plan.py)
    esm_batch_tokens: int = 0  # 0 = chosen from the device
    dnabert_batch_tokens: int = 0
    attention: str = "auto"
    compile: str = "auto"  # auto (on for CUDA) | on | off
    progress: bool = True
    worker_timeout: float = 600.0  # seconds a busy worker may stay silent before the run stops
    shard: str | None = None  # "I/N": compute only shard I of N of the unit plan (merged by `virnucpro merge`)
    paired: bool = False  # mates share an ID: they become ID/1 and ID/2
    extract: bool = False  # `virnucpro extract`: per-frame embeddings only (no classifier, no tables)
    precision_check: bool = True  # --precision fp8 first checks which fast rung is fit for this data
    min_region_length: int = DEFAULT_MIN_REGION_LENGTH  # bp; shortest viral region in regions.tsv
    sequences: bool = True  # write viral.fa/.fq, regions.fa, regions.gff3 (--no-sequences: the tables only)


def run(cfg: PredictConfig, preloaded=None) -> dict:
    """INPUT -> prepare -> DNABERT-S + ESM-2 -> classifier -> outputs; returns run_info.

    Args:
        preloaded: (Embedder, classifier) already on one device (skips model resolution and loading), or a
            `RandomWeights()` to have every worker build the benchmark's random full-size models.
    """
    clock = Clock()
    out = OutputPaths(Path(cfg.output_dir))
    check_output_dir(out.root)
    check_inputs_survive(out, cfg.inputs, out.everything_written())
    r = resolve(cfg, preloaded)
    clock.lap("resolve_models")  # model files looked up, checked and (the first time) hashed
    with held_directory(out, "extract" if cfg.extract else "predict") as session, stop_on_signals():
        inputs = InputSet([session.open_input(given, k) for k, given in enumerate(cfg.inputs)], cfg.chunk_size,
                          r.threads, cfg.paired)
        workers = worker_configs(cfg, r, out)
        info = new_info(resume_parameters(cfg, r, workers[0]), r.model_info, inputs.describe(),
                        ",".join(r.devices), r.precision)
        clock.lap("read_and_hash_input")
        if (done := already_complete(out, info, cfg.force)) is not None:
            with run_log(out.log, info):  # a no-op rerun is logged too
                log.info("%s already holds this run's results (checked against run_info.json): nothing to do; pass "
                         "--force to recompute", out.root)
            return done
        info["counts"] = scan(inputs)  # validates the whole input before the output dir is claimed
        workers = [replace(w, frames=info["counts"]["frames"]) for w in workers]  # --compile auto: small runs eager
        clock.lap("scan")
        earlier = earlier_fast_mode(out, cfg.force)
        claim(out, info, cfg.force, cfg.resume, keep=tuple(Path(s.path) for s in inputs.sources if s.spooled))
        session.claimed = True
        with run_log(out.log, info), progress_bar("embedding frames", "frames", total=info["counts"]["frames"],
                                                  enabled=cfg.progress) as bar:
            for warning in r.warnings:  # after every input and output-directory check: never before their errors
                log.warning("%s", warning)
            plans: list = []
            info["plan"] = {"unit_frames": unit_frames_for(cfg.unit_frames, r.devices[0], info["counts"]["frames"])}
            todo, work = first_or_none(units_to_compute(inputs.prepared(), info["plan"]["unit_frames"], out, plans,
                                                        bar, r.shard, r.keep_intermediate))
            loaded = preloaded if isinstance(preloaded, tuple) else None
            if work and r.precision == "fp8":
                workers, loaded, info["precision_check"] = settle_fast_mode(
                    workers, inputs.batches, cfg.chunk_size, info["counts"]["frames"], earlier, cfg.precision_check,
                    loaded)
            per_device = compute(todo, workers, bar, clock, cfg.worker_timeout, loaded) if work else []
            info["plan"]["units"] = len(plans)
            if not work:
                say_nothing_to_compute(len(plans), r.shard)
            clock.lap("compute")  # zero on one device: there compute is charged to its three parts
            info["devices"] = [d.summary() for d in per_device]
            source = Source([s.path for s in inputs.sources], cfg.paired, r.threads,  # re-read for the sequence files
                            [s.sha256 for s in inputs.sources])
            if r.shard is not None:
                finish_shard(out, info, plans, clock, r.shard, source)
            elif cfg.extract:
                finish_extract(out, info, plans, clock)
            else:
                finish(out, info, plans, clock, r.keep_intermediate, lambda: write_intermediate_fasta(inputs, out),
                       source)
    return info
