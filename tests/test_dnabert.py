"""Native packed DNABERT-S equals a plain eager per-sequence reference written from the spec."""

from __future__ import annotations

import random

import pytest
import torch

from virnucpro.models.dnabert import DnaBertConfig
from virnucpro.models.loaders import load_dnabert
from virnucpro.models.packing import pack
from virnucpro.testing.factory import dnabert_state, write_dnabert

from reference_pipeline import reference_embedding, reference_slopes


def dna(n: int, seed: int) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choice("ACGT") for _ in range(n))


@pytest.mark.parametrize("heads", [6, 12, 4])
def test_equals_eager_reference(tmp_path, heads):
    cfg = DnaBertConfig(vocab_size=64, hidden_size=48, num_hidden_layers=2, num_attention_heads=heads,
                        intermediate_size=96)
    model, tok = load_dnabert(write_dnabert(tmp_path / "m", cfg, seed=heads))
    sd = {k: v for k, v in torch.load(tmp_path / "m" / "pytorch_model.bin").items()}
    seqs = [dna(n, i) for i, n in enumerate((1, 5, 60, 301, 2600))]
    ids = tok.encode_batch(seqs)
    assert max(map(len, ids)) > 512  # ALiBi beyond the 512 starting size
    assert all(t[0] == 1 and t[-1] == 2 for t in ids)
    want = torch.stack([reference_embedding(sd, cfg, t) for t in ids])
    for backend in ("reference", "sdpa", "flex"):  # flex: eager on CPU, padded-buffer path included
        model.attention_backend = backend
        with torch.no_grad():
            got = model(pack(ids))
        assert (got - want).abs().max() <= 1e-5, backend


def test_slopes_match_spec():
    from virnucpro.models.attention import alibi_slopes

    want = [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625,
            2 ** -0.5, 2 ** -1.5, 2 ** -2.5, 2 ** -3.5]
    assert alibi_slopes(12) == pytest.approx(want, rel=1e-12)
    assert alibi_slopes(6) == pytest.approx(reference_slopes(6))


def test_packed_equals_one_at_a_time(tmp_path):
    model, tok = load_dnabert(write_dnabert(tmp_path / "m", seed=1))
    model.attention_backend = "sdpa"
    ids = tok.encode_batch([dna(n, n) for n in (3, 90, 200, 17)])
    with torch.no_grad():
        together = model(pack(ids))
        alone = torch.cat([model(pack([t])) for t in ids])
    assert (together - alone).abs().max() <= 1e-5


def test_bert_prefix_and_safetensors_load_identically(tmp_path):
    a, tok = load_dnabert(write_dnabert(tmp_path / "plain", seed=2))
    b, _ = load_dnabert(write_dnabert(tmp_path / "prefixed", seed=2, prefix="bert.", fmt="safetensors"))
    batch = pack(tok.encode_batch([dna(100, 0), dna(7, 1)]))
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))


def test_state_matches_factory(tmp_path):
    """The factory randomises every parameter (LayerNorms included): defaults would hide swaps."""
    sd = dnabert_state()
    assert not torch.allclose(sd["emb_norm.weight"], torch.ones_like(sd["emb_norm.weight"]))
    assert sd["layers.0.attn_norm.bias"].abs().sum() > 0
