"""One device's share of a predict run: load the models, then embed, classify and commit work units.

The same `UnitRunner` serves the one-device run (in the main process) and each worker process of
a multi-device run (`serve`): a unit's result never depends on which worker computed it, because
a unit is always embedded with the same batch composition.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from virnucpro.errors import ModelError
from virnucpro.models.store import ModelPaths
from virnucpro.nofollow import make_dirs
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.pipeline.scoring import (chunk_calls, classify, consensus_rows, prediction_rows, sequence_rows,
                                        unscored)
from virnucpro.pipeline.workunits import UnitPlan, unit_path, write_unit
from virnucpro.prep.prepare import PreparedBatch
from virnucpro.stopwatch import Clock

log = logging.getLogger("virnucpro")


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a worker needs (picklable: it crosses into worker processes)."""

    device: str
    precision: str
    out_dir: Path
    models: ModelPaths | None  # None: the benchmark's random full-size models
    threads: int = 1  # torch CPU threads (CPU devices)
    attention: str = "auto"
    compile: str = "auto"
    esm_batch_tokens: int = 0
    dnabert_batch_tokens: int = 0
    keep_intermediate: bool = False
    fp8_linears: tuple[str, ...] = ("qkv", "out_proj", "fc1", "fc2")  # --precision fp8: the rung chosen for the run
    compile_cache: Path | None = None  # compiled kernels kept beside the models (None: torch's default folder)
    frames: int | None = None  # frames the whole run embeds (--compile auto decides from it); None: unknown


@dataclass
class UnitCallbacks:
    """How a runner reports: after each ESM-2 batch (frames) and after each committed unit."""

    batch: Callable[[int], None] = lambda n: None
    unit: Callable[[UnitPlan, float], None] = lambda plan, seconds: None


def load_models(cfg: WorkerConfig):
    """(Embedder, classifier) on cfg.device.

    Raises:
        ModelError: a model does not load, or the classifier does not fit the encoders.
    """
    dnabert, tokenizer, esm, classifier = _models(cfg)
    embedder = build_embedder(cfg, dnabert, tokenizer, esm)
    if classifier is not None and classifier.hidden_layer.in_features != embedder.feature_dim:
        raise ModelError(f"classifier expects {classifier.hidden_layer.in_features}-d features but the encoders give "
                         f"{embedder.feature_dim}: use the classifier trained for these models")
    return embedder, classifier


def build_embedder(cfg: WorkerConfig, dnabert, tokenizer, esm):
    """The embedding engine for loaded encoders on cfg.device, with the plan of engine/device_plan.py (kernels,
    compile, batch sizes from the device's facts, cfg's precision and flags)."""
    import torch

    from virnucpro.engine.device_plan import plan_engine
    from virnucpro.engine.embedder import Embedder, EngineConfig
    from virnucpro.models.capabilities import probe

    if cfg.device == "cpu":
        torch.set_num_threads(cfg.threads)  # the encoders are the CPU's work here
    plan = plan_engine(probe(cfg.device), esm.cfg, dnabert.cfg, cfg.precision, attention=cfg.attention,
                       compile=cfg.compile, esm_batch_tokens=cfg.esm_batch_tokens,
                       dnabert_batch_tokens=cfg.dnabert_batch_tokens, frames=cfg.frames)
    log.info("engine on %s: %s", cfg.device, plan.describe())
    ecfg = EngineConfig(device=cfg.device, dtype=plan.dtype, attention=cfg.attention, compile=plan.compile,
                        esm_batch_tokens=plan.esm_batch_tokens, dnabert_batch_tokens=plan.dnabert_batch_tokens,
                        esm_linear=plan.esm_linear, esm_fp8_linears=cfg.fp8_linears,
                        esm_attention=plan.esm_attention, dnabert_attention=plan.dnabert_attention,
                        compile_cache=cfg.compile_cache)
    return Embedder(dnabert, tokenizer, esm, ecfg)


def inference_dtype(precision: str):
    """The torch dtype the encoders run in for a --precision value (fp8 keeps fp16 weights beside its own)."""
    from virnucpro.engine.device_plan import DTYPES

    return DTYPES[precision]


def _models(cfg: WorkerConfig):
    """(dnabert, tokenizer, esm, classifier) from the files, or random full-size ones for the benchmark."""
    if cfg.models is None:
        from virnucpro.testing.factory import full_size_random_models

        esm, dnabert, tokenizer, classifier = full_size_random_models(cfg.device)  # seeded: same in every worker
        return dnabert, tokenizer, esm, classifier
    from virnucpro.models.classifier import load_classifier
    from virnucpro.models.loaders import load_dnabert, load_esm
    from virnucpro.models.weights import Placement

    place, records = Placement(cfg.device, inference_dtype(cfg.precision)), cfg.models.records  # cast on the device
    dnabert, tokenizer = load_dnabert(cfg.models.dnabert, place, records)
    classifier = load_classifier(cfg.models.classifier) if cfg.models.classifier is not None else None  # extract
    return dnabert, tokenizer, load_esm(cfg.models.esm, place, records), classifier


class UnitRunner:
    """Embeds, classifies and commits units on one device, the next unit queued while one finishes."""

    def __init__(self, embedder, classifier, cfg: WorkerConfig, report: UnitCallbacks, clock: Clock | None = None):
        self.embedder, self.classifier, self.cfg, self.report = embedder, classifier, cfg, report
        self.clock = clock or Clock()
        self.out = OutputPaths(Path(cfg.out_dir))

    def run(self, units: Iterable[tuple[UnitPlan, PreparedBatch]], lookahead: int = 2) -> None:
        """Compute every (plan, unit); tokenising runs `lookahead` units ahead in a thread."""
        from virnucpro.engine.embedder import prefetch

        tokenized = ((plan, u, self.embedder.tokenize(u.frame_ids, u.nucleotides, u.proteins)) for plan, u in units)
        pending = None  # unit whose device work is queued but not yet collected
        for plan, unit, tok in self.clock.timed_iter(prefetch(tokenized, lookahead), "wait_for_input"):
            with self.clock.timing("embed"):
                feats = self.embedder.features_to_host(tok, self.report.batch) if unit.frame_ids else None
            if pending is not None:  # finish the previous unit while this one runs on the device
                self._finish(*pending)
            pending = (plan, unit, feats, time.perf_counter())
        if pending is not None:
            self._finish(*pending)
        self.embedder.seal_compile_cache()  # every kernel this run compiled is now in the cache

    def _finish(self, plan: UnitPlan, u: PreparedBatch, feats, t0: float) -> None:
        """Collect a unit's features, classify, and commit it."""
        import torch

        with self.clock.timing("embed"):  # waits for this unit's work on the device (not the next unit's)
            feats = feats.result() if feats is not None else torch.zeros(0, self.embedder.feature_dim)
        with self.clock.timing("classify_and_commit"):
            scores = classify(self.classifier, feats) if self.classifier is not None else unscored(len(feats))
            with np.errstate(invalid="ignore"):  # extract: NaN scores (nothing is classified)
                calls = chunk_calls(u.frame_chunk, scores, len(u.chunk_ids))
            if self.cfg.keep_intermediate:
                save_embeddings(self.out, plan.index, u.frame_ids, feats, self.embedder.dnabert.cfg.hidden_size)
            with np.errstate(invalid="ignore"):
                rows = sequence_rows(u.ids, u.lengths, u.chunk_record, calls, u.frame_chunk, scores)
            write_unit(unit_path(self.out.units, plan.index), plan, prediction_rows(u.frame_ids, scores),
                       consensus_rows(u.frame_ids, u.frame_chunk, calls), rows)
        self.report.unit(plan, time.perf_counter() - t0)


def save_embeddings(out: OutputPaths, k: int, ids: list[str], feats, dna_dim: int) -> None:
    """`--keep-intermediate`: a unit's per-frame embeddings as a sealed safetensors file (checksum over the
    tensors, the frame IDs and the unit index), written atomically; non-finite embeddings stop the run."""
    from virnucpro.sealed import save_sealed

    make_dirs(out.embeddings)
    save_sealed(embeddings_path(out, k), {"dnabert_s": feats[:, :dna_dim], "esm2": feats[:, dna_dim:]},
                {"ids": json.dumps(ids), "unit": str(k)})


def embeddings_path(out: OutputPaths, k: int) -> Path:
    return out.embeddings / f"unit_{k:07d}.safetensors"


def embeddings_ok(out: OutputPaths, plan: UnitPlan) -> bool:
    """A unit's kept embeddings file is intact, belongs to this unit and holds one row per frame."""
    return plan.frames == 0 or embeddings_file_ok(embeddings_path(out, plan.index), plan.frames)


def embeddings_file_ok(path: Path, frames: int, seal: str | None = None) -> bool:
    """An embeddings shard matches its checksum, names the unit of its file name (a shard copied over another
    fails), holds `frames` IDs and `frames` rows, and (given) carries the `seal` recorded in index.json."""
    from virnucpro.sealed import load_sealed

    try:
        tensors, meta = load_sealed(path, {"unit": str(int(path.stem.removeprefix("unit_")))})
        ids = json.loads(meta["ids"])
    except (ValueError, KeyError):
        return False
    if seal is not None and meta["sha256"] != seal:
        return False
    return len(ids) == frames == len(tensors.get("esm2", ())) == len(tensors.get("dnabert_s", ()))


def queued_units(tasks, poll: float = 1.0) -> Iterator[tuple[UnitPlan, PreparedBatch]]:
    """Units from the coordinator's queue until its end marker; stops if the coordinator is gone."""
    import queue

    parent = os.getppid()
    while True:
        try:
            item = tasks.get(timeout=poll)
        except queue.Empty:
            if os.getppid() != parent:  # the coordinator died (SIGKILL): nobody will collect our work
                return
            continue
        if item is None:
            return
        yield item
