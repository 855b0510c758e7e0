"""`virnucpro check-precision`: how much the fast mode (fp8) changes embeddings, scores and calls on the
user's own data and models, against the default fp16 path, on a deterministic sample of whole chunks."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from virnucpro.model_store import ModelRefs, home_dir, resolve_all
from virnucpro.prepare import count_batch, prepare_batch
from virnucpro.seqio import read_inputs

log = logging.getLogger("virnucpro")
MAX_CHUNK_CHANGES = 0.005  # the verdict: at most 0.5% of chunk calls may change ...
MIN_P1_COSINE = 0.999  # ... and 99% of frames keep their ESM-2 embedding within this cosine


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


@dataclass
class Sample:
    """The sampled frames: IDs, their chunk (a global index), sequences; and the input's frame count."""

    ids: list[str] = field(default_factory=list)
    chunk: list[int] = field(default_factory=list)
    nucleotides: list[str] = field(default_factory=list)
    proteins: list[str] = field(default_factory=list)
    input_frames: int = 0


def run(cfg: CheckConfig) -> dict:
    """Sample, embed with fp16 and with the fast mode, compare; prints the report and returns it."""
    from virnucpro.cpus import effective_threads

    cfg.threads = effective_threads(cfg.threads)
    device = _device(cfg)
    paths = resolve_all(cfg.models, cfg.chunk_size, home_dir(cfg.model_dir), cfg.offline)
    sample = sample_frames(cfg)
    if not sample.ids:
        from virnucpro.errors import InputError

        raise InputError("the input has no frame to compare (no chunk keeps a stop-free frame): nothing to check")
    log.info("comparing fp16 and %s on %d frames of %d chunks (of %d frames in the input) on %s", cfg.precision,
             len(sample.ids), len(set(sample.chunk)), sample.input_frames, device)
    base, fast, clf, esm_dim = _embed_both(cfg, paths, device, sample)
    report = compare(base, fast, clf, np.asarray(sample.chunk), esm_dim)
    report.update({"precision": cfg.precision, "device": device, "frames_in_input": sample.input_frames})
    print(format_report(report))
    if cfg.json_out is not None:
        from virnucpro.atomic import write_atomic

        write_atomic(Path(cfg.json_out), json.dumps(report, indent=2) + "\n")
    return report


def _device(cfg: CheckConfig) -> str:
    from virnucpro.pipeline.devices import check_fp8, parse_devices, resolve_devices

    device = resolve_devices(parse_devices(cfg.device))[0]
    if cfg.linear == "fp8":
        check_fp8([device])
    return device


def sample_frames(cfg: CheckConfig) -> Sample:
    """Every k-th chunk that keeps frames (all its frames), k chosen so that about `cfg.frames` are taken."""
    batches = lambda: read_inputs(cfg.inputs, 4096, None, cfg.threads, cfg.paired)  # noqa: E731
    total = sum(count_batch(b, cfg.chunk_size)[1] for b in batches())
    stride = max(1, total // max(cfg.frames, 1))
    sample, seen = Sample(input_frames=total), 0
    for b in batches():
        p = prepare_batch(b, cfg.chunk_size)
        with_frames = np.unique(p.frame_chunk)  # (C,) batch-local chunks that keep a frame
        chosen = set(with_frames[(seen + np.arange(len(with_frames))) % stride == 0].tolist())
        for f, c in enumerate(p.frame_chunk.tolist()):
            if c in chosen:
                sample.ids.append(p.frame_ids[f])
                sample.chunk.append(seen + int(np.searchsorted(with_frames, c)))
                sample.nucleotides.append(p.nucleotides[f])
                sample.proteins.append(p.proteins[f])
        seen += len(with_frames)
        if len(sample.ids) >= cfg.frames:
            break
    return sample


def _embed_both(cfg: CheckConfig, paths, device: str, s: Sample):
    """(fp16 features, fast-mode features, classifier, ESM-2 width), on the same loaded models (eager blocks)."""
    import torch

    from virnucpro.models.fp8 import quantize_esm
    from virnucpro.pipeline.devices import resolve_precision
    from virnucpro.pipeline.worker import WorkerConfig, load_models

    wcfg = WorkerConfig(device=device, precision=resolve_precision("auto", device), out_dir=Path("."),
                        models=paths, threads=cfg.threads, compile="off")
    embedder, clf = load_models(wcfg)
    tok = embedder.tokenize(s.ids, s.nucleotides, s.proteins)
    base = embedder.features(tok)
    quantize_esm(embedder.esm)
    embedder.esm.use_linear(cfg.linear)
    fast = embedder.features(tok)
    esm_dim = embedder.esm.cfg.embed_dim
    del embedder
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return base, fast, clf, esm_dim


def compare(base, fast, classifier, chunk: np.ndarray, esm_dim: int) -> dict:
    """Agreement of two (F, D) feature sets [DNABERT-S | ESM-2 (esm_dim)]: ESM-2 embedding cosine, score
    differences, changed frame and chunk calls (the chunk rule of the original: the most confident frame)."""
    import torch

    from virnucpro.pipeline.scoring import chunk_calls, classify

    esm = slice(base.shape[1] - esm_dim, None)
    cos = torch.nn.functional.cosine_similarity(base[:, esm].double(), fast[:, esm].double(), dim=1).numpy()
    a, b = classify(classifier, base), classify(classifier, fast)
    n_chunks = int(chunk.max()) + 1 if chunk.size else 0
    ca, cb = chunk_calls(chunk, a, n_chunks), chunk_calls(chunk, b, n_chunks)
    changed_chunks = int((ca.is_virus != cb.is_virus).sum())
    return {"frames": int(len(cos)), "chunks": int(len(ca.chunk_index)),
            "esm_cosine": {"mean": float(cos.mean()), "p1": float(np.percentile(cos, 1)), "min": float(cos.min())},
            "max_score_difference": float(np.abs(a.score2 - b.score2).max()),
            "mean_score_difference": float(np.abs(a.score2 - b.score2).mean()),
            "frames_call_changed": int((a.is_virus != b.is_virus).sum()), "chunks_call_changed": changed_chunks,
            "fit": bool(changed_chunks <= MAX_CHUNK_CHANGES * len(ca.chunk_index) and np.percentile(cos, 1) >= MIN_P1_COSINE)}


def format_report(r: dict) -> str:
    """A short table and the plain verdict line."""
    c = r["esm_cosine"]
    pct_f = 100 * r["frames_call_changed"] / max(r["frames"], 1)
    pct_c = 100 * r["chunks_call_changed"] / max(r["chunks"], 1)
    verdict = (f"VERDICT: {r['precision']} is fit for this data: {r['chunks_call_changed']} of {r['chunks']:,} chunk "
               f"calls change ({pct_c:.2f}%, limit {100 * MAX_CHUNK_CHANGES:.1f}%), embeddings agree (1st-percentile "
               f"cosine {c['p1']:.5f} >= {MIN_P1_COSINE})") if r["fit"] else (
               f"VERDICT: {r['precision']} is NOT recommended for this data: {r['chunks_call_changed']} of "
               f"{r['chunks']:,} chunk calls change ({pct_c:.2f}%, limit {100 * MAX_CHUNK_CHANGES:.1f}%), "
               f"1st-percentile cosine {c['p1']:.5f} (limit {MIN_P1_COSINE}): use fp16")
    return "\n".join([
        f"check-precision: {r['precision']} against fp16 on {r['frames']:,} frames in {r['chunks']:,} chunks "
        f"({r['device']})",
        f"  ESM-2 embedding cosine   mean {c['mean']:.6f}   1st percentile {c['p1']:.6f}   min {c['min']:.6f}",
        f"  virus score difference   max {r['max_score_difference']:.2e}   mean {r['mean_score_difference']:.2e}",
        f"  calls changed            frames {r['frames_call_changed']} ({pct_f:.2f}%)   chunks "
        f"{r['chunks_call_changed']} ({pct_c:.2f}%)",
        verdict])
