"""`virnucpro predict`: the whole method as one streaming, resumable pipeline over one or more devices."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.atomic import atomic_files
from virnucpro.cpus import effective_threads
from virnucpro.hashing import sha256_model
from virnucpro.logs import run_log
from virnucpro.memory import limit_heap_fragmentation
from virnucpro.model_store import ModelPaths, ModelRefs, home_dir, resolve_all, resolve_encoders
from virnucpro.models.classifier_registry import check_chunk_size
from virnucpro.nucleotides import NucleotideCheck
from virnucpro.errors import InputError
from virnucpro.pipeline.assemble import finish, finish_extract, finish_shard
from virnucpro.pipeline.claim import already_complete, claim
from virnucpro.pipeline.coordinator import compute
from virnucpro.pipeline.devices import check_fp8, parse_devices, resolve_devices, resolve_precision
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.run_info import new_info, read_info
from virnucpro.pipeline.shards import ShardSpec
from virnucpro.pipeline.worker import WorkerConfig, embeddings_ok
from virnucpro.pipeline.ownership import check_inputs_survive
from virnucpro.pipeline.workdir import check_output_dir, held_directory
from virnucpro.pipeline.workunits import UnitPlan, committed_units, group_units, unit_ok, unit_path
from virnucpro.prepare import count_batch, prepare_batch
from virnucpro.progress import progress_bar
from virnucpro.seqio import ReadStats, read_inputs
from virnucpro.signals import stop_on_signals
from virnucpro.spool import InputSource
from virnucpro.stopwatch import Clock

log = logging.getLogger("virnucpro")
READ_BATCH = 4096  # records parsed and prepared at a time (bounds the prepare stage's memory)


@dataclass
class PredictConfig:
    """Parameters of `virnucpro predict`."""

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
    unit_frames: int = 0  # 0 = auto: 65536 on CUDA (few partly filled batches), 4096 on CPU
    esm_batch_tokens: int = 0  # 0 = chosen from the device
    dnabert_batch_tokens: int = 0
    attention: str = "auto"
    compile: str = "auto"  # auto (on for CUDA) | on | off
    progress: bool = True
    worker_timeout: float = 600.0  # seconds a busy worker may stay silent before the run stops
    shard: str | None = None  # "I/N": compute only shard I of N of the unit plan (merged by `virnucpro merge`)
    paired: bool = False  # mates share an ID: they become ID/1 and ID/2
    extract: bool = False  # `virnucpro extract`: per-frame embeddings only (no classifier, no tables)


def run(cfg: PredictConfig, preloaded=None) -> dict:
    """INPUT -> prepare -> DNABERT-S + ESM-2 -> classifier -> outputs; resumable by work unit, on every device.

    `preloaded` = (Embedder, classifier) skips model resolution and loading on a single device;
    `preloaded="random"` has every worker build the benchmark's random full-size models.
    """
    clock = Clock()
    shard = ShardSpec.parse(cfg.shard) if cfg.shard else None
    if shard is not None and (cfg.keep_intermediate or cfg.extract):
        raise InputError("--shard is for predict without --keep-intermediate: run without --shard")
    cfg.keep_intermediate = cfg.keep_intermediate or cfg.extract
    _check_inputs(cfg)
    limit_heap_fragmentation()
    auto_threads, cfg.threads = cfg.threads == 0, effective_threads(cfg.threads)
    out = OutputPaths(Path(cfg.output_dir))
    check_output_dir(out.root)
    check_inputs_survive(out, cfg.inputs, out.everything_written())
    home = home_dir(cfg.model_dir)
    paths = _model_paths(cfg, home) if preloaded is None else None
    devices, precision = _devices_and_precision(cfg)
    models = _model_info(paths, cfg.models, home) if paths else {"preloaded": "random weights (benchmark)"}
    if paths and not cfg.extract:
        check_chunk_size(paths.classifier, models["classifier"]["sha256"][paths.classifier.name], home / "classifiers",
                         cfg.chunk_size)
    with held_directory(out, "extract" if cfg.extract else "predict") as session, stop_on_signals():
        sources = [session.open_input(given, k) for k, given in enumerate(cfg.inputs)]
        if devices[0] == "cpu" and auto_threads:
            cfg.threads = _threads_of_unfinished_run(out, cfg.threads, len(devices))
        workers = _worker_configs(cfg, devices, precision, paths, out)
        info = new_info(_resume_parameters(cfg, workers[0], precision), models, _describe_inputs(sources, cfg.paired),
                        ",".join(devices), precision)
        clock.lap("read_and_hash_input")
        if (done := already_complete(out, info, cfg.force)) is not None:
            log.info("%s already holds this run's results (checked against run_info.json): nothing to do; pass "
                     "--force to recompute", out.root)
            return done
        info["counts"] = _scan(sources, cfg)  # validates the whole input before the output dir is claimed
        clock.lap("scan")
        claim(out, info, cfg.force, cfg.resume)
        session.claimed = True
        with run_log(out.log, info), progress_bar("embedding frames", "frames", total=info["counts"]["frames"],
                                                  enabled=cfg.progress) as bar:
            plans: list[UnitPlan] = []
            todo = _units_to_compute(sources, cfg, out, plans, bar, shard)
            single = preloaded if preloaded not in (None, "random") else None
            per_device = compute(todo, workers, bar, clock, cfg.worker_timeout, single)
            clock.lap("compute")  # zero on one device: there compute is charged to its three parts
            info["devices"] = [d.summary() for d in per_device]
            if shard is not None:
                finish_shard(out, info, plans, clock, shard)
            elif cfg.extract:
                finish_extract(out, info, plans, clock)
            else:
                finish(out, info, plans, clock, cfg.keep_intermediate,
                       lambda: _write_intermediate_fasta(sources, cfg, out))
    return info


def _check_inputs(cfg: PredictConfig) -> None:
    if not cfg.inputs:
        raise InputError("no input given: name a FASTA/FASTQ/BAM file, several, or '-' for stdin")
    if cfg.inputs.count("-") > 1:
        raise InputError("'-' (stdin) is given more than once: stdin can be read only once")
    if cfg.paired and len(cfg.inputs) > 2:
        raise InputError(f"--paired takes two mate files (R1 R2) or one interleaved file, not {len(cfg.inputs)}: run "
                         "each pair separately")


def _batches(sources: list[InputSource], cfg: PredictConfig, stats: ReadStats | None = None):
    return read_inputs([s.path for s in sources], READ_BATCH, stats, cfg.threads, cfg.paired)


def _prepared(sources: list[InputSource], cfg: PredictConfig):
    for batch in _batches(sources, cfg):
        yield prepare_batch(batch, cfg.chunk_size)


def _describe_inputs(sources: list[InputSource], paired: bool) -> dict:
    """run_info's `input`: one file as before; several, or mates, as a list with the pairing."""
    if len(sources) == 1 and not paired:
        return sources[0].describe()
    return {"files": [s.describe() for s in sources], "paired": paired}


def _scan(sources: list[InputSource], cfg: PredictConfig) -> dict:
    """One cheap CPU pass: validates the input (format, duplicates, nucleotides) and counts what will be computed."""
    stats, chunks, frames = ReadStats(), 0, 0
    t0 = time.perf_counter()
    nucleotides = NucleotideCheck(", ".join(s.given for s in sources))
    for batch in _batches(sources, cfg, stats):
        nucleotides.add(batch)
        c, f = count_batch(batch, cfg.chunk_size)
        chunks, frames = chunks + c, frames + f
    log.info("input: %d records (%d empty skipped), %d bp, %d chunks, %d frames to embed (scan %.1f s)",
             stats.records, stats.empty, stats.bases, chunks, frames, time.perf_counter() - t0)
    if stats.records == 0:
        log.warning("the input holds no sequences: the result tables will have headers only")
    return {"records": stats.records, "empty_records_skipped": stats.empty, "bases": stats.bases,
            "chunks": chunks, "frames": frames}


def _units_to_compute(sources: list[InputSource], cfg: PredictConfig, out: OutputPaths, plans: list[UnitPlan], bar,
                      shard: ShardSpec | None):
    """The unit plan (appended to `plans`) and the (plan, unit) pairs to compute: this shard's (or all), without
    a verified committed file."""
    out.units.mkdir(parents=True, exist_ok=True)
    committed = committed_units(out.units)
    if committed:
        log.info("resuming: %d work unit file(s) found; each is verified before it is reused", len(committed))
    for k, u in enumerate(group_units(_prepared(sources, cfg), cfg.unit_frames)):
        plan = UnitPlan.of(k, u)
        plans.append(plan)
        if shard is not None and not shard.owns(k) or k in committed and _still_good(out, plan, cfg.keep_intermediate):
            bar.skip(plan.frames)
            continue
        yield plan, u


def _still_good(out: OutputPaths, plan: UnitPlan, keep_intermediate: bool) -> bool:
    path = unit_path(out.units, plan.index)
    if unit_ok(path, plan) and (not keep_intermediate or embeddings_ok(out, plan)):
        return True
    log.warning("work unit %d is damaged or incomplete (truncated, emptied or altered): recomputing it", plan.index)
    path.unlink(missing_ok=True)
    return False


def _write_intermediate_fasta(sources: list[InputSource], cfg: PredictConfig, out: OutputPaths) -> None:
    from virnucpro.fasta_out import write_prepared

    with atomic_files(out.prepare_files()) as (c, n, p):
        for b in _prepared(sources, cfg):
            write_prepared(b, c, n, p)


def _devices_and_precision(cfg: PredictConfig) -> tuple[list[str], str]:
    """Resolved devices and precision; `fp8` only where every device has FP8 tensor cores.

    Raises:
        InputError: --precision fp8 on a device without FP8 tensor cores.
    """
    devices = resolve_devices(parse_devices(cfg.device))
    precision = resolve_precision(cfg.precision, devices[0])
    if precision == "fp8":
        check_fp8(devices)
    return devices, precision


def _worker_configs(cfg: PredictConfig, devices: list[str], precision: str, paths: ModelPaths | None,
                    out: OutputPaths) -> list[WorkerConfig]:
    """One per device; CPU workers share the threads (each unit is summed the same way whichever takes it)."""
    threads = max(1, cfg.threads // len(devices)) if devices[0] == "cpu" else cfg.threads
    cfg.unit_frames = cfg.unit_frames or (65536 if devices[0].startswith("cuda") else 4096)
    return [WorkerConfig(device=d, precision=precision, out_dir=out.root, models=paths, threads=threads,
                         attention=cfg.attention, compile=cfg.compile, esm_batch_tokens=cfg.esm_batch_tokens,
                         dnabert_batch_tokens=cfg.dnabert_batch_tokens, keep_intermediate=cfg.keep_intermediate)
            for d in devices]


def _resume_parameters(cfg: PredictConfig, worker: WorkerConfig, precision: str) -> dict:
    params = {"chunk_size": cfg.chunk_size, "unit_frames": cfg.unit_frames, "precision": precision,
              "device_type": worker.device.split(":")[0], "attention": cfg.attention, "compile": cfg.compile,
              "esm_batch_tokens": cfg.esm_batch_tokens, "dnabert_batch_tokens": cfg.dnabert_batch_tokens}
    if worker.device == "cpu":  # CPU matmuls sum in a thread-count-dependent order: a score's last digit can move
        params["cpu_threads"] = worker.threads
    if cfg.shard:
        params["shard"] = cfg.shard
    if cfg.extract:
        params["mode"] = "extract"
    return params


def _threads_of_unfinished_run(out: OutputPaths, threads: int, workers: int) -> int:
    """Without --threads, a resumed CPU run keeps the earlier run's threads per worker (scores stay identical)."""
    old = read_info(out.run_info)
    earlier = (old or {}).get("parameters", {}).get("cpu_threads")
    if old is None or old.get("status") == "complete" or not isinstance(earlier, int) or earlier * workers == threads:
        return threads
    log.info("resuming with the earlier run's %d CPU threads per worker (scores stay identical to an uninterrupted "
             "run)", earlier)
    return earlier * workers


def _model_paths(cfg: PredictConfig, home: Path) -> ModelPaths:
    if cfg.extract:  # the encoders only
        return ModelPaths(*resolve_encoders(cfg.models, home, cfg.offline), None)
    return resolve_all(cfg.models, cfg.chunk_size, home, cfg.offline)


def _model_info(paths: ModelPaths, refs: ModelRefs, home: Path) -> dict:
    cache = home / "hashes.json"
    info = {"dnabert": {"ref": refs.dnabert, "revision": refs.revision_dnabert, "path": str(paths.dnabert),
                        "sha256": sha256_model(paths.dnabert, cache)},
            "esm": {"ref": refs.esm, "revision": refs.revision_esm, "path": str(paths.esm),
                    "sha256": sha256_model(paths.esm, cache)}}
    if paths.classifier is not None:
        info["classifier"] = {"path": str(paths.classifier), "sha256": sha256_model(paths.classifier, cache)}
    return info
