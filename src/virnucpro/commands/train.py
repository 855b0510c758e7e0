"""`virnucpro train`: a classifier for `predict --classifier` from the user's viral and other references.

read and select training frames per input -> embed once per input (cached) -> the original recipe
-> classifier.safetensors (with its chunk size, encoders, seed, recipe, inputs and metrics),
metrics.json, virnucpro.log and report.html in -o DIR.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from virnucpro.models.store import ModelRefs, home_dir, resolve_encoders
from virnucpro.training.frames import ClassFrames, class_frames
from virnucpro.training.metrics import json_safe, undefined
from virnucpro.argtypes import int_in
from virnucpro import argtypes as A
from virnucpro.commands import flags

log = logging.getLogger("virnucpro")
CLASSES = (("viral", 1), ("other", 0))
TRAIN_OUTPUTS = ("classifier.safetensors", "metrics.json", "report.html")  # what a new run replaces


@dataclass
class TrainConfig:
    """Parameters of `virnucpro train`."""

    viral: list[str]
    other: list[str]
    output_dir: Path
    chunk_size: int = 500
    models: ModelRefs = field(default_factory=ModelRefs)
    model_dir: Path | None = None
    offline: bool = False
    device: str = "auto"
    precision: str = "auto"
    seed: int = 0
    max_epochs: int = 200
    threads: int = 0


def run(cfg: TrainConfig) -> dict:
    """The whole training run; returns the metrics written to DIR/metrics.json."""
    from virnucpro.cpus import effective_threads
    from virnucpro.logs import run_log
    from virnucpro.models.preflight import check_model_files
    from virnucpro.models.store import ModelPaths
    from virnucpro.pipeline.outputs import OutputPaths
    from virnucpro.pipeline.ownership import finish_owned_run, start_owned_run
    from virnucpro.pipeline.workdir import check_output_dir, held_directory
    from virnucpro.signals import stop_on_signals

    out = OutputPaths(Path(cfg.output_dir))
    check_output_dir(out.root)
    cfg.threads = effective_threads(cfg.threads)
    digests = _input_digests(cfg)
    frames = {name: class_frames(name, getattr(cfg, name), cfg.chunk_size) for name, _ in CLASSES}
    dnabert, esm = resolve_encoders(cfg.models, home_dir(cfg.model_dir), cfg.offline)
    check_model_files(ModelPaths(dnabert, esm, None))  # every model problem before the directory is claimed
    with held_directory(out, "train") as session, stop_on_signals():
        _refuse_duplicates(cfg, digests)  # after the directory's owner is checked: that refusal comes first
        run_info = start_owned_run(out, "train", _parameters(cfg), TRAIN_OUTPUTS)
        session.claimed = True
        with run_log(out.log, run_info):
            features, labels, encoders = _features(cfg, frames, digests, dnabert, esm, out.root / "features")
            from virnucpro.training.recipe import Recipe, train

            recipe = Recipe(max_epochs=cfg.max_epochs)
            model, history = train(features, labels, recipe, cfg.seed)
            metrics = _metrics(cfg, frames, history, recipe, encoders)
            _warn_undefined(metrics["final"], metrics["validation_frames"])
            _write(out.root, model, metrics)
            finish_owned_run(out, run_info)
            log.info("trained: validation accuracy %.3f, F1 %.3f, AUROC %.3f (best epoch %d) -> %s",
                     metrics["final"]["accuracy"], metrics["final"]["f1"], metrics["final"]["auroc"],
                     history["best_epoch"], out.root / "classifier.safetensors")
            log.info("report: %s; metrics: %s; log: %s", out.root / "report.html", out.root / "metrics.json", out.log)
    return metrics


def _parameters(cfg: TrainConfig) -> dict:
    return {"chunk_size": cfg.chunk_size, "seed": cfg.seed, "device": cfg.device, "precision": cfg.precision,
            "max_epochs": cfg.max_epochs, "viral": cfg.viral, "other": cfg.other}


def _input_digests(cfg: TrainConfig) -> dict[str, str]:
    """sha256 of every input file, before any work: train reads each input twice (frames, then the hash that
    keys the feature cache), so a stream would be read empty the second time (or hang, a FIFO).

    Raises:
        InputError: an input that is a stream (pipe, FIFO, '-') or a device.
    """
    from virnucpro.errors import InputError
    from virnucpro.io.hashing import sha256_file
    from virnucpro.io.seqio import check_input_path
    from virnucpro.io.spool import is_regular_file

    digests: dict[str, str] = {}
    for name, _ in CLASSES:
        for path in getattr(cfg, name):
            check_input_path(path)
            if not is_regular_file(path):
                raise InputError(f"--{name} input {path!r} is not a regular file (a pipe, FIFO or device): train "
                                 "reads each input twice; write it to a file first")
            digests[path] = sha256_file(Path(path))
    return digests


def _refuse_duplicates(cfg: TrainConfig, digests: dict[str, str]) -> None:
    """A file in both classes (same path, a link, a copy, a compressed copy), or twice in one, teaches nothing.

    Compared by the decompressed content: `a.fa` and `a.fa.gz` are the same sequences.

    Raises:
        InputError: naming both places of the same content.
    """
    from virnucpro.errors import InputError
    from virnucpro.io.repeated import content_sha256

    seen: dict[str, str] = {}  # sha256 of the content -> "--class 'path'"
    for name, _ in CLASSES:
        for path in getattr(cfg, name):
            here, content = f"--{name} {path!r}", content_sha256(path, digests[path])
            if content in seen:
                raise InputError(f"{here} has the same content as {seen[content]}: a file belongs to one "
                                 "class, once; remove the duplicate")
            seen[content] = here


def _features(cfg: TrainConfig, frames: dict[str, ClassFrames], digests: dict[str, str], dnabert: Path, esm: Path,
              cache: Path):
    """(N, D) features and (N,) labels of both classes; each input file is embedded once and cached by its
    sha256, the encoders, the chunk size, the precision and the build (pipeline/build.py: another torch, CUDA or
    device embeds again; a rerun with another seed or recipe, or with one more input file, embeds only what it
    has not seen)."""
    import torch

    from virnucpro.io.hashing import sha256_model
    from virnucpro.pipeline.build import build_record
    from virnucpro.pipeline.devices import parse_devices, resolve_devices
    from virnucpro.io.verified import records_in
    from virnucpro.training.cache import load_cached, save_cached

    hashes = records_in(home_dir(cfg.model_dir))
    encoders = {"dnabert": {"path": str(dnabert), "sha256": sha256_model(dnabert, hashes)},
                "esm": {"path": str(esm), "sha256": sha256_model(esm, hashes)}, "inputs": {}}
    build = build_record(resolve_devices(parse_devices(cfg.device))[:1])
    parts, labels, embedder = [], [], None
    for name, label in CLASSES:
        encoders["inputs"][name] = {}
        for path, (a, b) in frames[name].spans.items():
            digest = digests[path]
            encoders["inputs"][name][path] = digest
            key = _cache_key(digest, encoders, cfg.chunk_size, cfg.precision, build)
            target = cache / f"{key[:24]}.safetensors"
            feats = load_cached(target, key, frames[name].ids[a:b])
            if feats is None:
                embedder = embedder or _embedder(cfg, dnabert, esm)
                feats = _embed(embedder, frames[name], a, b)
                save_cached(target, key, feats, frames[name].ids[a:b])
            else:
                log.info("--%s %s: %d frame embeddings reused from %s", name, path, len(feats), target)
            parts.append(feats)
            labels.append(torch.full((len(feats),), label, dtype=torch.long))
    return torch.cat(parts), torch.cat(labels), encoders


def _cache_key(input_sha256: str, encoders: dict, chunk_size: int, precision: str, build: dict) -> str:
    import hashlib

    text = json.dumps([input_sha256, encoders["dnabert"]["sha256"], encoders["esm"]["sha256"], chunk_size, precision,
                       build], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _embedder(cfg: TrainConfig, dnabert: Path, esm: Path):
    from virnucpro.io.verified import records_in
    from virnucpro.models.loaders import load_dnabert, load_esm
    from virnucpro.models.weights import Placement
    from virnucpro.pipeline.devices import parse_devices, resolve_devices, resolve_precision
    from virnucpro.pipeline.worker import WorkerConfig, build_embedder, inference_dtype

    device = resolve_devices(parse_devices(cfg.device))[0]
    precision = resolve_precision(cfg.precision, device)
    place, records = Placement(device, inference_dtype(precision)), records_in(home_dir(cfg.model_dir))
    model, tokenizer = load_dnabert(dnabert, place, records)
    wcfg = WorkerConfig(device=device, precision=precision, out_dir=Path(cfg.output_dir), models=None,
                        threads=cfg.threads, compile_cache=home_dir(cfg.model_dir) / "compiled")
    return build_embedder(wcfg, model, tokenizer, load_esm(esm, place, records))


def _embed(embedder, frames: ClassFrames, start: int, end: int, block: int = 65536) -> "torch.Tensor":
    """(end - start, D) fp32 features of frames[start:end] on the CPU, `block` frames at a time."""
    import torch

    log.info("--%s: embedding %d frames", frames.name, end - start)
    out = [torch.zeros(0, embedder.feature_dim)]
    for at in range(start, end, block):
        sl = slice(at, min(at + block, end))
        tok = embedder.tokenize(frames.ids[sl], frames.nucleotides[sl], frames.proteins[sl])
        out.append(embedder.features(tok))
    return torch.cat(out)


def _metrics(cfg: TrainConfig, frames: dict[str, ClassFrames], history: dict, recipe: "Recipe", encoders: dict) -> dict:
    return {"chunk_size": cfg.chunk_size, "seed": cfg.seed, "recipe": recipe.describe(),
            "encoders": {k: encoders[k] for k in ("dnabert", "esm")}, "inputs": encoders["inputs"],
            "frames": {n: {"records": f.records, "chunks": f.chunks, "ambiguous_chunks_dropped": f.ambiguous_chunks,
                           "frames": len(f.ids), "selection": f.selection} for n, f in frames.items()},
            **history}


def _warn_undefined(final: dict, held_out: int) -> None:
    """A metric with no value (AUROC of held-out frames of one class) is null in metrics.json, said once."""
    names = undefined(final)
    if names:
        log.warning("the %d held-out frames hold one class only: %s undefined (null in metrics.json); give more "
                    "sequences of the smaller class for a meaningful validation", held_out, ", ".join(names))


def _write(root: Path, model, metrics: dict) -> None:
    from virnucpro.atomic import write_atomic
    from virnucpro.models.classifier import save_classifier
    from virnucpro.report.training_page import write_training_report

    meta = {"format": "virnucpro-classifier", "chunk_size": str(metrics["chunk_size"]), "seed": str(metrics["seed"]),
            "recipe": json.dumps(metrics["recipe"]), "encoders": json.dumps(metrics["encoders"]),
            "inputs": json.dumps(metrics["inputs"]),
            "metrics": json.dumps(json_safe(metrics["final"]), allow_nan=False)}
    save_classifier(model, root / "classifier.safetensors", meta)
    write_atomic(root / "metrics.json", json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n")
    write_training_report(root, metrics)


def add_parser(sub) -> None:
    p = flags.subparser(sub, "train", "train a classifier on your own viral and other references",
                      "Frames as the original's training mode (GenBank: only frames inside annotated "
                      "CDS, ambiguous chunks dropped; FASTA: prediction-mode frames), embedded once per "
                      "input, then the original recipe. Writes classifier.safetensors for `predict "
                      "--classifier`, metrics.json, report.html and virnucpro.log.")
    p.add_argument("--viral", nargs="+", required=True, metavar="FILE", help="viral references: GenBank (.gbk/.gbff, "
                   "with CDS translations) or FASTA, plain or compressed")
    p.add_argument("--other", nargs="+", required=True, metavar="FILE", help="non-viral references (host, bacteria), "
                   "same formats")
    p.add_argument("--chunk-size", type=int_in(*A.CHUNK_SIZE), default=500, help="chunk length in bp the classifier "
                   "is for")
    p.add_argument("-o", "--output-dir", type=A.directory, required=True, help="directory for the classifier and reports")
    flags.model_args(p, classifier=False)
    p.add_argument("--device", type=flags.device_arg, default="auto", help="where the encoders run (the first device "
                   "given is used)")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto",
                   help="encoder precision: auto = fp16 on GPU, fp32 on CPU")
    p.add_argument("--seed", type=int_in(*A.SEED), default=0, help="seed of the split, the initial weights and the "
                   "batch order")
    p.add_argument("--max-epochs", type=int_in(*A.MAX_EPOCHS), default=200, help="upper bound on epochs (early stopping "
                   "usually ends sooner)")
    p.add_argument("--threads", type=flags.threads_arg, default=0, help="CPU threads; 0 = every core this job may use")
    flags.verbosity(p)
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    flags.unused_classifier(args, "train", "trains a new classifier (written to -o)")
    run(TrainConfig(
        viral=args.viral, other=args.other, output_dir=args.output_dir, chunk_size=args.chunk_size,
        models=flags.model_refs(args), model_dir=args.model_dir, offline=args.offline, device=args.device,
        precision=args.precision, seed=args.seed, max_epochs=args.max_epochs, threads=args.threads))
    return 0
