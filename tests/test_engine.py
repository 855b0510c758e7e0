"""The embedding engine: fixed-shape (padded) batches and frame order are exact on the CPU."""

from __future__ import annotations

import random

import torch

from virnucpro.engine.embedder import EngineConfig, Embedder
from virnucpro.models.loaders import load_dnabert, load_esm


def test_fixed_shape_batches_give_identical_features(tiny_models):
    rnd = random.Random(1)
    nucs = ["".join(rnd.choice("ACGT") for _ in range(rnd.randint(10, 300))) for _ in range(60)]
    prots = ["".join(rnd.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(rnd.randint(1, 100))) for _ in range(60)]
    ids = [f"f{i}" for i in range(60)]
    feats = []
    for fixed in (False, True):
        dna, tok = load_dnabert(tiny_models.dnabert_dir)
        e = Embedder(dna, tok, load_esm(tiny_models.esm_dir),
                     EngineConfig(fixed_shapes=fixed, esm_batch_tokens=700, dnabert_batch_tokens=900))
        feats.append(e.features(e.tokenize(ids, nucs, prots)))
    assert feats[0].shape == (60, 96)
    assert (feats[0] - feats[1]).abs().max() <= 1e-5


def test_features_are_in_frame_order(tiny_models):
    dna, tok = load_dnabert(tiny_models.dnabert_dir)
    e = Embedder(dna, tok, load_esm(tiny_models.esm_dir), EngineConfig(esm_batch_tokens=64, dnabert_batch_tokens=64))
    nucs, prots = ["ACGTACGTAC" * k for k in (1, 5, 2)], ["MK" * k for k in (3, 1, 9)]
    together = e.features(e.tokenize(["a", "b", "c"], nucs, prots))
    alone = torch.cat([e.features(e.tokenize([i], [n], [p])) for i, n, p in zip("abc", nucs, prots)])
    assert (together - alone).abs().max() <= 1e-5


class _OomAbove:
    """Wraps an encoder: raises CUDA OOM for batches with more than `limit` sequences."""

    def __init__(self, model, limit: int) -> None:
        self.model, self.limit, self.calls = model, limit, []

    def __call__(self, batch):
        self.calls.append(batch.num_seqs)
        if batch.num_seqs > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return self.model(batch)


def test_out_of_memory_splits_batches_and_keeps_results(tiny_models):
    dna, tok = load_dnabert(tiny_models.dnabert_dir)
    e = Embedder(dna, tok, load_esm(tiny_models.esm_dir), EngineConfig(esm_batch_tokens=10_000))
    prots = [[0] + [5] * n + [2] for n in range(1, 20)]
    ids = [str(i) for i in range(len(prots))]
    want = e.encode(e.esm, prots, ids, 10_000)
    flaky = _OomAbove(e.esm, limit=4)
    got = e.encode(flaky, prots, ids, 10_000)
    assert flaky.calls[0] == len(prots) and max(flaky.calls[1:]) <= (len(prots) + 1) // 2
    assert (got - want).abs().max() <= 1e-5


def test_a_split_for_memory_is_said_once_as_a_warning(tiny_models, caplog):
    """A split batch is padded differently, so its scores can differ in the last digits from a run with the memory:
    the run says so (once, as a warning; the later splits at debug)."""
    import logging

    dna, tok = load_dnabert(tiny_models.dnabert_dir)
    e = Embedder(dna, tok, load_esm(tiny_models.esm_dir), EngineConfig(esm_batch_tokens=10_000))
    prots = [[0] + [5] * n + [2] for n in range(1, 20)]
    with caplog.at_level(logging.DEBUG, logger="virnucpro"):
        e.encode(_OomAbove(e.esm, limit=4), prots, [str(i) for i in range(len(prots))], 10_000)
    said = [r for r in caplog.records if "split" in r.getMessage()]
    assert said[0].levelno == logging.WARNING and "last digits" in said[0].getMessage()
    assert len(said) > 1 and all(r.levelno == logging.DEBUG for r in said[1:])


def test_out_of_memory_on_one_sequence_is_exit_4(tiny_models):
    import pytest

    from virnucpro.errors import OutOfMemoryError

    dna, tok = load_dnabert(tiny_models.dnabert_dir)
    e = Embedder(dna, tok, load_esm(tiny_models.esm_dir), EngineConfig())
    with pytest.raises(OutOfMemoryError, match="'frame_7'.*does not fit") as err:
        e.encode(_OomAbove(e.esm, limit=0), [[0, 5, 5, 2]], ["frame_7"], 1000)
    assert err.value.exit_code == 4


def test_shape_buckets():
    from virnucpro.engine.batching import shape_bucket

    assert [shape_bucket(n, 65536) for n in (1, 8192, 8193, 16384, 20000, 40000, 65536)] == \
        [8192, 8192, 16384, 16384, 32768, 65536, 65536]
    assert shape_bucket(70000, 65536) == 70000  # one long sequence over budget keeps its size
