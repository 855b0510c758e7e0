"""The fast-mode ladder: which FP8 variant of ESM-2's linears is fit for this data, fastest first.

`check-precision` reports every rung; `predict --precision fp8` climbs it on a sample of its input before
any unit is computed and uses the first fit rung (fp16 when none is). A rung is fit when at most
MAX_CHUNK_CHANGES of the sampled chunk calls change against fp16 and the 1st-percentile cosine of the
ESM-2 embedding to fp16 is at least MIN_P1_COSINE.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_CHUNK_CHANGES = 0.005  # at most 0.5% of chunk calls may change ...
MIN_P1_COSINE = 0.999  # ... and 99% of frames keep their ESM-2 embedding within this cosine
RUN_CHECK_FRAMES = 2000  # predict's own check: ~2,000 frames (seconds on a GPU, < 2% of a 1M-read run)


@dataclass(frozen=True)
class Variant:
    """One rung: the ESM-2 linears that run on FP8 tensor cores (none: fp16)."""

    name: str
    linears: tuple[str, ...]


LADDER = (Variant("fp8", ("qkv", "out_proj", "fc1", "fc2")),  # fastest (1.30x ESM-2 on the H200)
          Variant("fp8-ffn", ("fc1", "fc2")),  # the feed-forward only: much closer to fp16 (1.20x)
          Variant("fp16", ()))
VARIANTS = {v.name: v for v in LADDER}


@dataclass
class Sample:
    """The sampled frames: IDs, their chunk (a global index), sequences; and the input's frame count."""

    ids: list[str] = field(default_factory=list)
    chunk: list[int] = field(default_factory=list)
    nucleotides: list[str] = field(default_factory=list)
    proteins: list[str] = field(default_factory=list)
    input_frames: int = 0


def sample_frames(batches, chunk_size: int, frames: int, total: int | None = None) -> Sample:
    """Every k-th chunk that keeps frames (all its frames), k chosen so that about `frames` are taken.

    Args:
        batches: a callable returning a fresh iterator of record batches (called twice without `total`).
        total: the input's frame count when already known (predict's scan).
    """
    from virnucpro.prep.prepare import count_batch, prepare_batch

    if total is None:
        total = sum(count_batch(b, chunk_size)[1] for b in batches())
    stride = max(1, total // max(frames, 1))
    sample, seen = Sample(input_frames=total), 0
    for b in batches():
        p = prepare_batch(b, chunk_size)
        with_frames = np.unique(p.frame_chunk)  # (C,) batch-local chunks that keep a frame
        chosen = set(with_frames[(seen + np.arange(len(with_frames))) % stride == 0].tolist())
        for f, c in enumerate(p.frame_chunk.tolist()):
            if c in chosen:
                sample.ids.append(p.frame_ids[f])
                sample.chunk.append(seen + int(np.searchsorted(with_frames, c)))
                sample.nucleotides.append(p.nucleotides[f])
                sample.proteins.append(p.proteins[f])
        seen += len(with_frames)
        if len(sample.ids) >= frames:
            break
    return sample


def apply_variant(esm, variant: Variant, linear_kind: str = "fp8") -> None:
    """Run ESM-2's linears as `variant` (`linear_kind` fp8, or fp8_reference in CPU tests)."""
    from virnucpro.models.fp8 import quantize_esm

    if not variant.linears:
        esm.use_linear("plain")
        return
    quantize_esm(esm, variant.linears)
    esm.use_linear(linear_kind)


def climb(embedder, classifier, sample: Sample, linear_kind: str = "fp8", every_rung: bool = False):
    """Compare each FP8 rung with fp16 on the sample (eager blocks, the loaded models), fastest first.

    Returns:
        (the first fit Variant, or fp16; the comparison of each rung tried, in order). The embedder is left
        running the chosen variant.
    """
    compiled = [layer.compiled for layer in embedder.esm.layers]
    for layer in embedder.esm.layers:
        layer.compiled = False  # the check needs no compile of the rungs it rejects
    tok = embedder.tokenize(sample.ids, sample.nucleotides, sample.proteins)
    apply_variant(embedder.esm, VARIANTS["fp16"])
    base, chunk, tried, chosen = embedder.features(tok), np.asarray(sample.chunk), [], VARIANTS["fp16"]
    for variant in LADDER[:-1]:
        apply_variant(embedder.esm, variant, linear_kind)
        report = compare(base, embedder.features(tok), classifier, chunk, embedder.esm.cfg.embed_dim)
        tried.append({"variant": variant.name, **report})
        if report["fit"] and chosen.name == "fp16":
            chosen = variant
            if not every_rung:
                break
    apply_variant(embedder.esm, chosen, linear_kind)
    for layer, was in zip(embedder.esm.layers, compiled):
        layer.compiled = was
    return chosen, tried


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
    p1 = float(np.percentile(cos, 1))
    return {"frames": int(len(cos)), "chunks": int(len(ca.chunk_index)),
            "esm_cosine": {"mean": float(cos.mean()), "p1": p1, "min": float(cos.min())},
            "max_score_difference": float(np.abs(a.score2 - b.score2).max()),
            "mean_score_difference": float(np.abs(a.score2 - b.score2).mean()),
            "frames_call_changed": int((a.is_virus != b.is_virus).sum()), "chunks_call_changed": changed_chunks,
            "fit": bool(changed_chunks <= MAX_CHUNK_CHANGES * len(ca.chunk_index) and p1 >= MIN_P1_COSINE)}


def verdict_line(r: dict) -> str:
    """One rung's verdict in words."""
    pct_c = 100 * r["chunks_call_changed"] / max(r["chunks"], 1)
    how = (f"{r['chunks_call_changed']} of {r['chunks']:,} chunk calls change ({pct_c:.2f}%, limit "
           f"{100 * MAX_CHUNK_CHANGES:.1f}%), 1st-percentile cosine {r['esm_cosine']['p1']:.5f} (limit {MIN_P1_COSINE})")
    name = r.get("variant", r.get("precision", "fp8"))
    return f"{name} is fit for this data: {how}" if r["fit"] else f"{name} is NOT recommended for this data: {how}"


def settle_fast_mode(workers: list, batches, chunk_size: int, total_frames: int, earlier: dict | None, check: bool,
                     loaded=None, linear_kind: str = "fp8"):
    """`predict --precision fp8`: the rung this run uses, decided before any unit is computed.

    A resumed run keeps the rung recorded in its run_info (`earlier`); without `check` the fastest rung is
    used; otherwise the ladder is climbed on a sample of the input with the models loaded once on the first
    device (handed on to the computation when there is one device).

    Returns:
        (worker configs running that rung, (embedder, classifier) already loaded or None, run_info record).
    """
    import logging
    import time

    log = logging.getLogger("virnucpro")
    if earlier is not None:
        log.info("fast mode: %s, as chosen when this run started (run_info.json)", earlier["chosen"])
        return _with_rung(workers, VARIANTS[earlier["chosen"]]), loaded, earlier
    if not check:
        log.info("fast mode: fp8 on all four ESM-2 linears, unchecked (--no-precision-check)")
        return _with_rung(workers, LADDER[0]), loaded, {"checked": False, "chosen": LADDER[0].name}
    t0 = time.perf_counter()
    sample = sample_frames(batches, chunk_size, RUN_CHECK_FRAMES, total=total_frames)
    if loaded is None:
        from virnucpro.pipeline.worker import load_models

        loaded = load_models(workers[0])
        log.info("models loaded on %s (fp8 check first) in %.1f s", workers[0].device, time.perf_counter() - t0)
    chosen, tried = climb(*loaded, sample, linear_kind) if sample.ids else (LADDER[0], [])
    record = {"checked": True, "sample_frames": len(sample.ids), "tried": tried, "chosen": chosen.name,
              "seconds": round(time.perf_counter() - t0, 2)}
    reason = "; ".join(verdict_line(t) for t in tried) or "no frame to sample"
    log.info("fast mode: using %s (%s; check %.1f s)", chosen.name, reason, record["seconds"])
    workers = _with_rung(workers, chosen)
    return workers, (loaded if len(workers) == 1 else None), record  # several workers: each loads its own copy


def _with_rung(workers: list, variant: Variant) -> list:
    import dataclasses

    if not variant.linears:
        return [dataclasses.replace(w, precision="fp16") for w in workers]
    return [dataclasses.replace(w, fp8_linears=variant.linears) for w in workers]


def earlier_fast_mode(out, force: bool) -> dict | None:
    """The fast-mode rung an unfinished run in `out` started with (a resume keeps it), else None."""
    from virnucpro.pipeline.run_info import read_info

    old = None if force else read_info(out.run_info)
    if not isinstance(old, dict) or old.get("status") == "complete":
        return None
    record = old.get("precision_check")
    return record if isinstance(record, dict) and record.get("chosen") in VARIANTS else None
