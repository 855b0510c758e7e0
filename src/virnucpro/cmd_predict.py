"""`virnucpro predict`: the whole method as one streaming, resumable pipeline."""

from __future__ import annotations

import logging
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.atomic import atomic_files
from virnucpro.engine import prefetch
from virnucpro.errors import InputError, ResumeError
from virnucpro.hashing import sha256_file, sha256_model
from virnucpro.logs import add_file_log
from virnucpro.memory import limit_heap_fragmentation
from virnucpro.model_store import ModelPaths, ModelRefs, home_dir, resolve_all
from virnucpro.outputs import HIGHEST_HEADER, PREDICTION_HEADER, SEQUENCES_HEADER, OutputPaths
from virnucpro.prepare import PreparedBatch, count_batch, prepare_batch
from virnucpro.progress import progress_bar
from virnucpro.run_info import check_resumable, new_info, read_info, write_info
from virnucpro.scoring import chunk_calls, classify, consensus_rows, prediction_rows, sequence_rows
from virnucpro.seqio import ReadStats, read_batches
from virnucpro.workunits import assemble, committed_units, group_units, unit_path, write_unit

log = logging.getLogger("virnucpro")
READ_BATCH = 4096  # records parsed and prepared at a time (bounds the prepare stage's memory)


@dataclass
class PredictConfig:
    """Parameters of `virnucpro predict`."""

    input: str
    output_dir: Path
    chunk_size: int = 500
    models: ModelRefs = field(default_factory=ModelRefs)
    model_dir: Path | None = None
    offline: bool = False
    device: str = "auto"
    precision: str = "auto"
    threads: int = 1
    keep_intermediate: bool = False
    resume: bool = False
    force: bool = False
    unit_frames: int = 0  # 0 = auto: 65536 on CUDA (few partly filled batches), 4096 on CPU
    esm_batch_tokens: int = 0  # 0 = chosen from the device
    dnabert_batch_tokens: int = 0
    attention: str = "auto"
    compile: str = "auto"  # auto (on for CUDA) | on | off
    progress: bool = True


def run(cfg: PredictConfig, preloaded=None) -> dict:
    """INPUT -> prepare -> DNABERT-S + ESM-2 -> classifier -> outputs; resumable by work unit.

    `preloaded` = (Embedder, classifier) skips model resolution and loading (the benchmark's
    random full-size models).
    """
    t_start = time.perf_counter()
    limit_heap_fragmentation()
    out = OutputPaths(Path(cfg.output_dir))
    home = home_dir(cfg.model_dir)
    paths = resolve_all(cfg.models, cfg.chunk_size, home, cfg.offline) if preloaded is None else None
    input_path = _spool_stdin(cfg.input, out) if cfg.input == "-" else cfg.input
    device, precision = _device_and_precision(cfg)
    models = _model_info(paths, cfg.models, home) if paths else {"preloaded": "random weights (benchmark)"}
    info = new_info(_resume_parameters(cfg, device, precision), models, _input_info(input_path), device, precision)
    info["counts"] = _scan(input_path, cfg)  # validates the whole input before the output dir is claimed
    _claim(out, info, cfg)
    file_log = add_file_log(out.log)
    try:
        if preloaded is None:
            embedder, classifier, seconds = _load(paths, device, precision, cfg)
        else:
            (embedder, classifier), seconds = preloaded, {}
        _compute_units(input_path, cfg, out, embedder, classifier, info["counts"]["frames"], seconds)
        _finish(out, input_path, cfg, info, seconds, t_start)
    finally:
        logging.getLogger("virnucpro").removeHandler(file_log)
        file_log.close()
    return info


def _prepared(input_path: str, cfg: PredictConfig, stats: ReadStats | None = None):
    for batch in read_batches(input_path, READ_BATCH, stats, cfg.threads):
        yield prepare_batch(batch, cfg.chunk_size)


def _scan(input_path: str, cfg: PredictConfig) -> dict:
    """One cheap CPU pass: validates the input (format, duplicates) and counts what will be computed."""
    stats, chunks, frames = ReadStats(), 0, 0
    t0 = time.perf_counter()
    for batch in read_batches(input_path, READ_BATCH, stats, cfg.threads):
        c, f = count_batch(batch, cfg.chunk_size)
        chunks, frames = chunks + c, frames + f
    log.info("input: %d records (%d empty skipped), %d bp, %d chunks, %d frames to embed (scan %.1f s)",
             stats.records, stats.empty, stats.bases, chunks, frames, time.perf_counter() - t0)
    return {"records": stats.records, "empty_records_skipped": stats.empty, "bases": stats.bases,
            "chunks": chunks, "frames": frames}


def _compute_units(input_path, cfg, out, embedder, classifier, total_frames, seconds) -> None:
    out.units.mkdir(parents=True, exist_ok=True)
    done = committed_units(out.units)
    if done:
        log.info("resuming: %d work unit(s) already committed", len(done))
    with progress_bar("embedding frames", "frames", total=total_frames, enabled=cfg.progress) as bar:
        units = enumerate(group_units(_prepared(input_path, cfg), _unit_frames(cfg, embedder.cfg.device)))
        tokenized = ((k, u, embedder.tokenize(u.frame_ids, u.nucleotides, u.proteins) if k not in done else None)
                     for k, u in units)
        pending = None  # unit whose device work is queued but not yet collected
        for k, unit, tok in prefetch(tokenized):  # parsing, prepare and tokenising run ahead in a thread
            launched = None
            if k not in done:
                feats = embedder.features_on_device(tok) if unit.frame_ids else None
                launched = (k, unit, feats, time.perf_counter())
            if pending is not None:  # finish the previous unit while this one runs on the device
                _finish_unit(*pending, embedder, classifier, out, cfg, seconds)
            pending = launched
            bar.update(len(unit.frame_ids))
        if pending is not None:
            _finish_unit(*pending, embedder, classifier, out, cfg, seconds)


def _finish_unit(k: int, u: PreparedBatch, feats, t0: float, embedder, classifier, out: OutputPaths, cfg,
                 seconds) -> None:
    """Collect a unit's features, classify, and commit it."""
    import torch

    feats = feats.cpu() if feats is not None else torch.zeros(0, embedder.feature_dim)  # waits for the device
    t1 = time.perf_counter()
    scores = classify(classifier, feats)
    calls = chunk_calls(u.frame_chunk, scores, len(u.chunk_ids))
    if cfg.keep_intermediate and len(feats):
        _save_embeddings(out, k, u.frame_ids, feats, embedder.dnabert.cfg.hidden_size)
    write_unit(unit_path(out.units, k), prediction_rows(u.frame_ids, scores),
               consensus_rows(u.frame_ids, u.frame_chunk, calls),
               sequence_rows(u.ids, u.lengths, u.chunk_record, calls, u.frame_chunk, scores))
    seconds["embed"] = seconds.get("embed", 0.0) + t1 - t0
    seconds["classify_and_commit"] = seconds.get("classify_and_commit", 0.0) + time.perf_counter() - t1


def _save_embeddings(out: OutputPaths, k: int, ids: list[str], feats, dna_dim: int) -> None:
    import json

    from safetensors.torch import save_file

    from virnucpro.atomic import tmp_path

    out.embeddings.mkdir(parents=True, exist_ok=True)
    target = out.embeddings / f"unit_{k:07d}.safetensors"
    tmp = tmp_path(target)
    save_file({"dnabert_s": feats[:, :dna_dim].contiguous(), "esm2": feats[:, dna_dim:].contiguous()}, str(tmp),
              metadata={"ids": json.dumps(ids)})
    tmp.replace(target)


def _finish(out: OutputPaths, input_path: str, cfg: PredictConfig, info: dict, seconds: dict, t_start) -> None:
    """Assemble the final tables atomically, then mark the run complete."""
    t0 = time.perf_counter()
    units = sorted(out.units.glob("unit_*.tsv"))
    with atomic_files([out.predictions, out.highest, out.sequences]) as (pred, high, seqs):
        pred.write(PREDICTION_HEADER)
        high.write(HIGHEST_HEADER)
        seqs.write(SEQUENCES_HEADER)
        assemble(units, pred, high, seqs)
    if cfg.keep_intermediate:
        _write_intermediate_fasta(input_path, cfg, out)
    else:
        shutil.rmtree(out.units, ignore_errors=True)
    spool = out.root / ".stdin_input"
    spool.unlink(missing_ok=True)
    seconds["assemble"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    info["seconds"] = {k: round(v, 3) for k, v in seconds.items()}
    info["status"] = "complete"
    write_info(out.run_info, info)
    log.info("done: %d frames classified in %.1f s -> %s", info["counts"].get("frames", 0), seconds["total"],
             out.predictions)


def _write_intermediate_fasta(input_path: str, cfg: PredictConfig, out: OutputPaths) -> None:
    from virnucpro.fasta_out import write_prepared

    with atomic_files(out.prepare_files()) as (c, n, p):
        for b in _prepared(input_path, cfg):
            write_prepared(b, c, n, p)


def _claim(out: OutputPaths, info: dict, cfg: PredictConfig) -> None:
    """Create the output dir, or resume an unfinished compatible run; never silently overwrite."""
    old = read_info(out.run_info)
    if old is not None and cfg.force:
        for p in (out.units, out.embeddings):
            shutil.rmtree(p, ignore_errors=True)
        old = None
    elif old is not None and old.get("status") == "complete":
        raise ResumeError(f"{out.root} already holds a complete run: choose another -o/--output-dir or pass --force "
                          "to overwrite it")
    elif old is not None:
        check_resumable(old, info, out.root)
        log.info("continuing the unfinished run in %s", out.root)
    elif out.predictions.exists() and not cfg.force:
        raise ResumeError(f"{out.root} holds predictions but no run_info.json: pass --force to overwrite")
    elif cfg.resume:
        log.warning("--resume: nothing to resume in %s, starting a new run", out.root)
    out.root.mkdir(parents=True, exist_ok=True)
    write_info(out.run_info, info)


def _spool_stdin(_: str, out: OutputPaths) -> str:
    """Copy stdin into the output dir so the input can be validated, counted, hashed and re-read."""
    out.root.mkdir(parents=True, exist_ok=True)
    spool = out.root / ".stdin_input"
    with open(spool, "wb") as fh:
        shutil.copyfileobj(sys.stdin.buffer, fh, 1 << 20)
    return str(spool)


def _device_and_precision(cfg: PredictConfig) -> tuple[str, str]:
    import torch

    device = cfg.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"--device {cfg.device} asked for a GPU but torch sees none: use --device cpu, or install "
                         "a CUDA build of torch")
    precision = cfg.precision
    if precision == "auto":
        precision = "fp16" if device.startswith("cuda") else "fp32"
    return device, precision


def _unit_frames(cfg: PredictConfig, device: str) -> int:
    return cfg.unit_frames or (65536 if device.startswith("cuda") else 4096)


def _resume_parameters(cfg: PredictConfig, device: str, precision: str) -> dict:
    return {"chunk_size": cfg.chunk_size, "unit_frames": _unit_frames(cfg, device), "precision": precision,
            "device_type": device.split(":")[0], "attention": cfg.attention, "compile": cfg.compile,
            "esm_batch_tokens": cfg.esm_batch_tokens, "dnabert_batch_tokens": cfg.dnabert_batch_tokens}


def _model_info(paths: ModelPaths, refs: ModelRefs, home: Path) -> dict:
    cache = home / "hashes.json"
    return {"dnabert": {"ref": refs.dnabert, "revision": refs.revision_dnabert, "path": str(paths.dnabert),
                        "sha256": sha256_model(paths.dnabert, cache)},
            "esm": {"ref": refs.esm, "revision": refs.revision_esm, "path": str(paths.esm),
                    "sha256": sha256_model(paths.esm, cache)},
            "classifier": {"path": str(paths.classifier), "sha256": sha256_model(paths.classifier, cache)}}


def _input_info(input_path: str) -> dict:
    p = Path(input_path)
    if not p.is_file():
        from virnucpro.seqio import check_input_path

        check_input_path(input_path)
    return {"path": str(p.resolve()) if not p.name == ".stdin_input" else "-", "bytes": p.stat().st_size,
            "sha256": sha256_file(p)}


def _load(paths: ModelPaths, device: str, precision: str, cfg: PredictConfig):
    """Load the three models onto the device."""
    import torch

    from virnucpro.engine import Embedder, EngineConfig, default_batch_tokens
    from virnucpro.models.classifier import load_classifier
    from virnucpro.models.loaders import load_dnabert, load_esm

    t0 = time.perf_counter()
    if device == "cpu":
        torch.set_num_threads(cfg.threads)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
    dnabert, tokenizer = load_dnabert(paths.dnabert)
    esm = load_esm(paths.esm)
    classifier = load_classifier(paths.classifier)
    esm_tokens, dna_tokens = default_batch_tokens(device)
    compile_blocks = cfg.compile == "on" or (cfg.compile == "auto" and device.startswith("cuda"))
    ecfg = EngineConfig(device=device, dtype=dtype, attention=cfg.attention, compile=compile_blocks,
                        esm_batch_tokens=cfg.esm_batch_tokens or esm_tokens,
                        dnabert_batch_tokens=cfg.dnabert_batch_tokens or dna_tokens)
    embedder = Embedder(dnabert, tokenizer, esm, ecfg)
    if classifier.hidden_layer.in_features != embedder.feature_dim:
        from virnucpro.errors import ModelError

        raise ModelError(f"classifier expects {classifier.hidden_layer.in_features}-d features but the encoders give "
                         f"{embedder.feature_dim}: use the classifier trained for these models")
    log.info("models loaded on %s (%s) in %.1f s", device, precision, time.perf_counter() - t0)
    return embedder, classifier, {"load_models": time.perf_counter() - t0}

