"""`virnucpro predict`: the whole method as one streaming, resumable pipeline."""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.atomic import atomic_files, tmp_path
from virnucpro.pipeline.claim import already_complete, claim, output_checksums, remove_extra_units
from virnucpro.cpus import effective_threads
from virnucpro.engine import prefetch
from virnucpro.errors import InputError, IntegrityError
from virnucpro.hashing import sha256_model
from virnucpro.logs import run_log
from virnucpro.memory import limit_heap_fragmentation
from virnucpro.model_store import ModelPaths, ModelRefs, home_dir, resolve_all
from virnucpro.nucleotides import NucleotideCheck
from virnucpro.pipeline.outputs import HIGHEST_HEADER, PREDICTION_HEADER, SEQUENCES_HEADER, OutputPaths
from virnucpro.prepare import PreparedBatch, count_batch, prepare_batch
from virnucpro.progress import progress_bar
from virnucpro.pipeline.run_info import new_info, read_info, write_info
from virnucpro.pipeline.scoring import chunk_calls, classify, consensus_rows, prediction_rows, sequence_rows
from virnucpro.seqio import ReadStats, read_batches
from virnucpro.signals import stop_on_signals
from virnucpro.spool import InputSource
from virnucpro.stopwatch import Clock
from virnucpro.pipeline.workdir import check_output_dir, held_directory
from virnucpro.pipeline.workunits import UnitPlan, assemble, committed_units, group_units, unit_ok, unit_path, write_unit

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


def run(cfg: PredictConfig, preloaded=None) -> dict:
    """INPUT -> prepare -> DNABERT-S + ESM-2 -> classifier -> outputs; resumable by work unit.

    `preloaded` = (Embedder, classifier) skips model resolution and loading (the benchmark's
    random full-size models).
    """
    clock = Clock()
    limit_heap_fragmentation()
    auto_threads, cfg.threads = cfg.threads == 0, effective_threads(cfg.threads)
    out = OutputPaths(Path(cfg.output_dir))
    check_output_dir(out.root)
    home = home_dir(cfg.model_dir)
    paths = resolve_all(cfg.models, cfg.chunk_size, home, cfg.offline) if preloaded is None else None
    device, precision = _device_and_precision(cfg)
    models = _model_info(paths, cfg.models, home) if paths else {"preloaded": "random weights (benchmark)"}
    with held_directory(out) as session, stop_on_signals():
        source = session.open_input(cfg.input)
        if device == "cpu" and auto_threads:
            cfg.threads = _threads_of_unfinished_run(out, cfg.threads)
        info = new_info(_resume_parameters(cfg, device, precision), models, source.describe(), device, precision)
        clock.lap("read_and_hash_input")
        if (done := already_complete(out, info, cfg.force)) is not None:
            log.info("%s already holds this run's results (checked against run_info.json): nothing to do; pass "
                     "--force to recompute", out.root)
            return done
        info["counts"] = _scan(source, cfg)  # validates the whole input before the output dir is claimed
        clock.lap("scan")
        claim(out, info, cfg.force, cfg.resume)
        session.claimed = True
        with run_log(out.log, info):
            embedder, classifier = _load(paths, device, precision, cfg, clock) if preloaded is None else preloaded
            plans = _compute_units(source.path, cfg, out, embedder, classifier, info["counts"]["frames"], clock)
            clock.skip()  # compute time is charged to wait_for_input / embed / classify_and_commit
            _finish(out, source.path, cfg, info, plans, clock)
    return info


def _prepared(input_path: str, cfg: PredictConfig, stats: ReadStats | None = None):
    for batch in read_batches(input_path, READ_BATCH, stats, cfg.threads):
        yield prepare_batch(batch, cfg.chunk_size)


def _scan(source: InputSource, cfg: PredictConfig) -> dict:
    """One cheap CPU pass: validates the input (format, duplicates, nucleotides) and counts what will be computed."""
    stats, chunks, frames = ReadStats(), 0, 0
    t0 = time.perf_counter()
    nucleotides = NucleotideCheck(source.given)
    for batch in read_batches(source.path, READ_BATCH, stats, cfg.threads):
        nucleotides.add(batch)
        c, f = count_batch(batch, cfg.chunk_size)
        chunks, frames = chunks + c, frames + f
    log.info("input: %d records (%d empty skipped), %d bp, %d chunks, %d frames to embed (scan %.1f s)",
             stats.records, stats.empty, stats.bases, chunks, frames, time.perf_counter() - t0)
    if stats.records == 0:
        log.warning("the input holds no sequences: the result tables will have headers only")
    return {"records": stats.records, "empty_records_skipped": stats.empty, "bases": stats.bases,
            "chunks": chunks, "frames": frames}


def _compute_units(input_path, cfg, out, embedder, classifier, total_frames, clock) -> list[UnitPlan]:
    """Embed, classify and commit every unit that has no verified file yet; returns the plan of all units."""
    out.units.mkdir(parents=True, exist_ok=True)
    committed = committed_units(out.units)
    if committed:
        log.info("resuming: %d work unit file(s) found; each is verified before it is reused", len(committed))
    plans: list[UnitPlan] = []
    with progress_bar("embedding frames", "frames", total=total_frames, enabled=cfg.progress) as bar:
        units = enumerate(group_units(_prepared(input_path, cfg), _unit_frames(cfg, embedder.cfg.device)))
        work = (_plan_unit(k, u, k in committed, out, cfg, embedder) for k, u in units)
        pending = None  # unit whose device work is queued but not yet collected
        for plan, unit, tok in clock.timed_iter(prefetch(work), "wait_for_input"):
            plans.append(plan)
            launched = None
            if tok is not None:
                with clock.timing("embed"):
                    feats = embedder.features_on_device(tok, bar.update) if unit.frame_ids else None
                launched = (plan, unit, feats)
            else:
                bar.skip(plan.frames)
            if pending is not None:  # finish the previous unit while this one runs on the device
                _finish_unit(*pending, embedder, classifier, out, cfg, clock)
            pending = launched
        if pending is not None:
            _finish_unit(*pending, embedder, classifier, out, cfg, clock)
    return plans


def _plan_unit(k: int, u: PreparedBatch, has_file: bool, out: OutputPaths, cfg, embedder):
    """(plan, unit, tokens or None when a verified file already holds the unit); runs in the prefetch thread."""
    plan = UnitPlan.of(k, u)
    if has_file:
        if unit_ok(unit_path(out.units, k), plan) and (not cfg.keep_intermediate or _embeddings_ok(out, plan)):
            return plan, u, None
        log.warning("work unit %d is damaged or incomplete (truncated, emptied or altered): recomputing it", k)
        unit_path(out.units, k).unlink(missing_ok=True)
    return plan, u, embedder.tokenize(u.frame_ids, u.nucleotides, u.proteins)


def _finish_unit(plan: UnitPlan, u: PreparedBatch, feats, embedder, classifier, out: OutputPaths, cfg,
                 clock: Clock) -> None:
    """Collect a unit's features, classify, and commit it."""
    import torch

    with clock.timing("embed"):  # .cpu() waits for the device
        feats = feats.cpu() if feats is not None else torch.zeros(0, embedder.feature_dim)
    with clock.timing("classify_and_commit"):
        scores = classify(classifier, feats)
        calls = chunk_calls(u.frame_chunk, scores, len(u.chunk_ids))
        if cfg.keep_intermediate:
            _save_embeddings(out, plan.index, u.frame_ids, feats, embedder.dnabert.cfg.hidden_size)
        write_unit(unit_path(out.units, plan.index), plan, prediction_rows(u.frame_ids, scores),
                   consensus_rows(u.frame_ids, u.frame_chunk, calls),
                   sequence_rows(u.ids, u.lengths, u.chunk_record, calls, u.frame_chunk, scores))


def _save_embeddings(out: OutputPaths, k: int, ids: list[str], feats, dna_dim: int) -> None:
    import json

    from safetensors.torch import save_file

    out.embeddings.mkdir(parents=True, exist_ok=True)
    target = _embeddings_path(out, k)
    tmp = tmp_path(target)
    try:
        save_file({"dnabert_s": feats[:, :dna_dim].contiguous(), "esm2": feats[:, dna_dim:].contiguous()}, str(tmp),
                  metadata={"ids": json.dumps(ids)})
        tmp.replace(target)
    except Exception as exc:  # safetensors reports a full disk as its own error type: make it an OSError
        if isinstance(exc, OSError):
            raise
        code = re.search(r"os error (\d+)", str(exc))
        num = int(code.group(1)) if code else errno.EIO
        raise OSError(num, os.strerror(num), str(target)) from None
    finally:
        tmp.unlink(missing_ok=True)


def _embeddings_path(out: OutputPaths, k: int) -> Path:
    return out.embeddings / f"unit_{k:07d}.safetensors"


def _embeddings_ok(out: OutputPaths, plan: UnitPlan) -> bool:
    """A unit's kept embeddings file is readable and holds one row per frame."""
    import json

    from safetensors import safe_open

    if plan.frames == 0:
        return True
    try:
        with safe_open(str(_embeddings_path(out, plan.index)), "pt") as st:
            return len(json.loads(st.metadata()["ids"])) == plan.frames == st.get_slice("esm2").get_shape()[0]
    except Exception:  # capability probe on a possibly damaged file: any failure means recompute
        return False


def _finish(out: OutputPaths, input_path: str, cfg: PredictConfig, info: dict, plans: list[UnitPlan],
            clock: Clock) -> None:
    """Verify every unit, assemble the tables atomically, check they account for everything, mark complete."""
    units = [unit_path(out.units, p.index) for p in plans]
    damaged = [p.index for p, f in zip(plans, units) if not unit_ok(f, p)]
    if damaged:
        raise IntegrityError(f"work unit(s) {damaged[:5]} changed during the run: rerun the same command (damaged "
                             "units are recomputed)")
    remove_extra_units(out.units, len(plans))
    with atomic_files(out.results()) as (pred, high, seqs):
        pred.write(PREDICTION_HEADER)
        high.write(HIGHEST_HEADER)
        seqs.write(SEQUENCES_HEADER)
        rows = assemble(units, pred, high, seqs)
        _check_rows(rows, info["counts"], plans)
    if cfg.keep_intermediate:
        _write_intermediate_fasta(input_path, cfg, out)
    info["counts"]["sequences_by_verdict"] = {v: rows.get(v, 0) for v in ("virus", "others", "no_frames")}
    info["outputs"] = output_checksums(out)
    clock.lap("assemble")
    info["seconds"] = clock.summary()
    info["status"] = "complete"
    write_info(out.run_info, info)  # complete before the units go: a kill in between loses no work
    if not cfg.keep_intermediate:
        shutil.rmtree(out.units, ignore_errors=True)
    _log_summary(out, info)


def _check_rows(rows: dict, counts: dict, plans: list[UnitPlan]) -> None:
    """One prediction row per kept frame, one consensus row per chunk with frames, one row per record."""
    want = {"prediction_rows": counts["frames"], "consensus_rows": sum(p.chunks_with_frames for p in plans),
            "sequence_rows": counts["records"] - counts["empty_records_skipped"]}
    got = {k: rows[k] for k in want}
    if got != want or sum(p.frames for p in plans) != counts["frames"]:
        raise IntegrityError(f"the assembled tables do not account for the input (rows {got}, expected {want}): the "
                             "input changed during the run? rerun with --force")


def _log_summary(out: OutputPaths, info: dict) -> None:
    c, v = info["counts"], info["counts"]["sequences_by_verdict"]
    log.info("done in %.1f s: %d records, %d chunks, %d frames; sequences called virus %d, others %d, no frames %d; "
             "per-sequence calls in %s", info["seconds"]["total"], c["records"], c["chunks"], c["frames"], v["virus"],
             v["others"], v["no_frames"], out.sequences)


def _write_intermediate_fasta(input_path: str, cfg: PredictConfig, out: OutputPaths) -> None:
    from virnucpro.fasta_out import write_prepared

    with atomic_files(out.prepare_files()) as (c, n, p):
        for b in _prepared(input_path, cfg):
            write_prepared(b, c, n, p)


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
    params = {"chunk_size": cfg.chunk_size, "unit_frames": _unit_frames(cfg, device), "precision": precision,
              "device_type": device.split(":")[0], "attention": cfg.attention, "compile": cfg.compile,
              "esm_batch_tokens": cfg.esm_batch_tokens, "dnabert_batch_tokens": cfg.dnabert_batch_tokens}
    if device == "cpu":  # CPU matmuls sum in a thread-count-dependent order: the last digit of a score can move
        params["cpu_threads"] = cfg.threads
    return params


def _threads_of_unfinished_run(out: OutputPaths, threads: int) -> int:
    """Without --threads, a resumed CPU run keeps the earlier run's thread count (so its scores stay identical)."""
    old = read_info(out.run_info)
    earlier = (old or {}).get("parameters", {}).get("cpu_threads")
    if old is None or old.get("status") == "complete" or not isinstance(earlier, int) or earlier == threads:
        return threads
    log.info("resuming with the earlier run's %d CPU threads (scores stay identical to an uninterrupted run)", earlier)
    return earlier


def _model_info(paths: ModelPaths, refs: ModelRefs, home: Path) -> dict:
    cache = home / "hashes.json"
    return {"dnabert": {"ref": refs.dnabert, "revision": refs.revision_dnabert, "path": str(paths.dnabert),
                        "sha256": sha256_model(paths.dnabert, cache)},
            "esm": {"ref": refs.esm, "revision": refs.revision_esm, "path": str(paths.esm),
                    "sha256": sha256_model(paths.esm, cache)},
            "classifier": {"path": str(paths.classifier), "sha256": sha256_model(paths.classifier, cache)}}


def _load(paths: ModelPaths, device: str, precision: str, cfg: PredictConfig, clock: Clock):
    """Load the three models onto the device."""
    import torch

    from virnucpro.engine import Embedder, EngineConfig, default_batch_tokens
    from virnucpro.models.classifier import load_classifier
    from virnucpro.models.loaders import load_dnabert, load_esm

    t0 = time.perf_counter()
    if device == "cpu":
        torch.set_num_threads(cfg.threads)  # the encoders are the CPU's work here
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
    clock.lap("load_models")
    return embedder, classifier

