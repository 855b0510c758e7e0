"""What a predict/extract run derives from its config before touching the output directory: checked inputs,
threads, devices, precision, model paths and hashes. The config itself is never changed."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.cpus import busy_warning, effective_threads
from virnucpro.errors import InputError
from virnucpro.io.hashing import sha256_model
from virnucpro.io.verified import records_in
from virnucpro.models.store import ModelPaths, ModelRefs, home_dir, resolve_all, resolve_encoders
from virnucpro.pipeline.devices import check_fp8, parse_devices, resolve_devices, resolve_precision
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.run_info import read_info
from virnucpro.pipeline.shards import ShardSpec
from virnucpro.pipeline.worker import WorkerConfig

log = logging.getLogger("virnucpro")


class RandomWeights:
    """Every worker builds the benchmark's seeded random full-size models (no model files)."""


@dataclass
class Resolved:
    """A run's resolved values: what `auto` and 0 became, and where the models are."""

    devices: list[str]
    precision: str
    threads: int  # CPU threads in all (workers on the CPU share them)
    auto_threads: bool
    keep_intermediate: bool
    shard: ShardSpec | None
    home: Path
    models: ModelPaths | None  # None: preloaded or random models
    model_info: dict
    warnings: list[str] = field(default_factory=list)  # said once the input is checked (never before its errors)


def resolve(cfg, preloaded=None) -> Resolved:
    """Check the inputs and arguments, resolve devices, precision, threads and models (downloaded if needed).

    Raises:
        InputError: no or unusable inputs, --shard with --keep-intermediate or extract, fp8 without FP8 cores.
        ModelError: a model cannot be found or fetched, its files disagree (config, weights, tokenizer,
            classifier width); the classifier does not fit the chunk size.
    """
    from virnucpro.engine.memory import limit_heap_fragmentation

    shard = ShardSpec.parse(cfg.shard) if cfg.shard else None
    if shard is not None and (cfg.keep_intermediate or cfg.extract):
        raise InputError("--shard is for predict without --keep-intermediate: run without --shard")
    check_inputs(cfg.inputs, cfg.paired)
    limit_heap_fragmentation()
    home = home_dir(cfg.model_dir)
    devices = resolve_devices(parse_devices(cfg.device))  # before any download: a wrong device costs no 12 GB
    precision = resolve_precision(cfg.precision, devices[0])
    if precision == "fp8":
        check_fp8(devices)
    paths = _model_paths(cfg, home) if preloaded is None else None
    if paths:
        from virnucpro.models.preflight import check_model_files

        check_model_files(paths)  # every model problem is found before the output directory is claimed
    info = _model_info(paths, cfg.models, home) if paths else {"preloaded": "random weights (benchmark)"}
    warnings = []
    if paths and not cfg.extract:
        from virnucpro.models.classifier_registry import check_chunk_size

        warnings.append(check_chunk_size(paths.classifier, info["classifier"]["sha256"][paths.classifier.name],
                                         home / "classifiers", cfg.chunk_size))
    threads = effective_threads(cfg.threads)
    if devices[0] == "cpu":  # the encoders run on the CPU: say when other work keeps its cores busy
        warnings.append(busy_warning(threads))
    return Resolved(devices, precision, threads, cfg.threads == 0,
                    cfg.keep_intermediate or cfg.extract, shard, home, paths, info, [w for w in warnings if w])


def check_inputs(inputs: list[str], paired: bool) -> None:
    if not inputs:
        raise InputError("no input given: name a FASTA/FASTQ/BAM file, several, or '-' for stdin")
    if inputs.count("-") > 1:
        raise InputError("'-' (stdin) is given more than once: stdin can be read only once")
    if paired and len(inputs) > 2:
        raise InputError(f"--paired takes two mate files (R1 R2) or one interleaved file, not {len(inputs)}: run "
                         "each pair separately")
    from virnucpro.io.seqio import check_input_path

    for given in inputs:  # a mistyped path is said before any model is looked up (or downloaded)
        check_input_path(given)


def worker_configs(cfg, r: Resolved, out: OutputPaths) -> list[WorkerConfig]:
    """One per device; CPU workers share the threads (each unit is summed the same way whichever takes it).

    Without --threads, a resumed or rerun CPU run keeps the earlier run's threads per worker (scores stay identical).
    """
    threads = r.threads
    if r.devices[0] == "cpu" and r.auto_threads:
        threads = _threads_of_earlier_run(out, threads, len(r.devices))
    per_worker = max(1, threads // len(r.devices)) if r.devices[0] == "cpu" else threads
    return [WorkerConfig(device=d, precision=r.precision, out_dir=out.root, models=r.models, threads=per_worker,
                         attention=cfg.attention, compile=cfg.compile, esm_batch_tokens=cfg.esm_batch_tokens,
                         dnabert_batch_tokens=cfg.dnabert_batch_tokens, keep_intermediate=r.keep_intermediate,
                         compile_cache=r.home / "compiled")
            for d in r.devices]


def resume_parameters(cfg, r: Resolved, worker: WorkerConfig) -> dict:
    """The parameters that must match for committed work to be reused."""
    params = {"chunk_size": cfg.chunk_size, "unit_frames": cfg.unit_frames, "precision": r.precision,
              "device_type": worker.device.split(":")[0], "attention": cfg.attention, "compile": cfg.compile,
              "esm_batch_tokens": cfg.esm_batch_tokens, "dnabert_batch_tokens": cfg.dnabert_batch_tokens}
    if worker.device == "cpu":  # CPU matmuls sum in a thread-count-dependent order: a score's last digit can move
        params["cpu_threads"] = worker.threads
    if cfg.shard:
        params["shard"] = cfg.shard
    if cfg.extract:
        params["mode"] = "extract"
    else:  # regions.tsv is part of the run's results: a resume, a rerun and a merge must use the same rule
        params["min_region_length"] = cfg.min_region_length
        # so are the kept embeddings and units: a resume without it would leave a partial embeddings/, a rerun
        # with it on a finished run would write none
        params["keep_intermediate"] = bool(cfg.keep_intermediate)
        params["sequences"] = cfg.sequences  # the sequence files are part of the results too
    if r.precision == "fp8" and not getattr(cfg, "precision_check", True):
        params["precision_check"] = False
    return params


def _threads_of_earlier_run(out: OutputPaths, threads: int, workers: int) -> int:
    """The earlier run's threads (unfinished: its resume; finished: its rerun, a checked no-op), else `threads`."""
    old = read_info(out.run_info)
    earlier = (old or {}).get("parameters", {}).get("cpu_threads")
    if old is None or not isinstance(earlier, int) or earlier * workers == threads:
        return threads
    if old.get("status") != "complete":
        log.info("resuming with the earlier run's %d CPU threads per worker (scores stay identical to an uninterrupted "
                 "run)", earlier)
    return earlier * workers


def _model_paths(cfg, home: Path) -> ModelPaths:
    if cfg.extract:  # the encoders only
        return ModelPaths(*resolve_encoders(cfg.models, home, cfg.offline), None, records_in(home))
    return resolve_all(cfg.models, cfg.chunk_size, home, cfg.offline)


def _model_info(paths: ModelPaths, refs: ModelRefs, home: Path) -> dict:
    cache = paths.records
    info = {"dnabert": {"ref": refs.dnabert, "revision": refs.revision_dnabert, "path": str(paths.dnabert),
                        "sha256": sha256_model(paths.dnabert, cache)},
            "esm": {"ref": refs.esm, "revision": refs.revision_esm, "path": str(paths.esm),
                    "sha256": sha256_model(paths.esm, cache)}}
    if paths.classifier is not None:
        info["classifier"] = {"path": str(paths.classifier), "sha256": sha256_model(paths.classifier, cache)}
    return info
