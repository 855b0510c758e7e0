"""Native packed ESM-2 equals fair-esm's ESM2 and transformers' EsmModel on the same random weights."""

from __future__ import annotations

import random

import pytest
import torch

from virnucpro.models.alphabet import encode_protein
from virnucpro.models.esm2 import ESM2Config
from virnucpro.models.loaders import load_esm
from virnucpro.models.packing import pack
from virnucpro.testing.factory import fair_state_dict_for_esm2, write_esm_fair, write_esm_hf

CFG = ESM2Config(num_layers=3, embed_dim=96, attention_heads=4)
AA = "ACDEFGHIKLMNPQRSTVWY"


def proteins(seed: int = 0) -> list[str]:
    rnd = random.Random(seed)
    seqs = ["".join(rnd.choice(AA) for _ in range(n)) for n in (1, 2, 7, 50, 167, 300, 33)]
    seqs.append(seqs[3][:10] + "<mask>" + seqs[3][10:30])
    return seqs


def ours(model, seqs, backend="sdpa"):
    model.attention_backend = backend
    with torch.no_grad():
        return model(pack([encode_protein(s) for s in seqs]))


def residue_count(s: str) -> int:
    return len(encode_protein(s)) - 2


@pytest.fixture(scope="module")
def esm_hf(tmp_path_factory):
    return write_esm_hf(tmp_path_factory.mktemp("esm") / "hf", CFG, seed=3)


def test_equals_fair_esm(esm_hf):
    esm = pytest.importorskip("esm")
    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    ref = esm.model.esm2.ESM2(num_layers=CFG.num_layers, embed_dim=CFG.embed_dim,
                              attention_heads=CFG.attention_heads, alphabet=alphabet, token_dropout=True).eval()
    state = fair_state_dict_for_esm2(CFG, seed=3)
    missing, unexpected = ref.load_state_dict(state, strict=False)
    assert not unexpected and all(k.startswith("lm_head") or k.startswith("contact_head") for k in missing)
    seqs = proteins()
    _, _, tokens = alphabet.get_batch_converter()([(str(i), s) for i, s in enumerate(seqs)])
    with torch.no_grad():
        reps = ref(tokens, repr_layers=[CFG.num_layers])["representations"][CFG.num_layers]
    want = torch.stack([reps[i, 1:min(1024, residue_count(s)) + 1].mean(0) for i, s in enumerate(seqs)])
    for backend in ("reference", "sdpa"):
        got = ours(load_esm(esm_hf), seqs, backend)
        assert (got - want).abs().max() <= 1e-5, backend


def test_equals_transformers_esm_model(esm_hf):
    transformers = pytest.importorskip("transformers")
    ref = transformers.EsmModel.from_pretrained(str(esm_hf), add_pooling_layer=False).eval()
    seqs = [s for s in proteins(1) if "<" not in s]
    _assert_equals_transformers(load_esm(esm_hf), ref, seqs)


def _assert_equals_transformers(model, ref, seqs) -> None:
    """Our pooled embeddings == transformers' last hidden state averaged over the residues, per sequence."""
    got = ours(model, seqs)
    for i, s in enumerate(seqs):
        ids = torch.tensor([encode_protein(s)])
        with torch.no_grad():
            h = ref(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state[0]
        assert (got[i] - h[1:len(s) + 1].mean(0)).abs().max() <= 1e-5


def test_packed_equals_one_at_a_time(esm_hf):
    model = load_esm(esm_hf)
    seqs = proteins(2)
    together = ours(model, seqs)
    alone = torch.cat([ours(model, [s]) for s in seqs])
    assert (together - alone).abs().max() <= 1e-5


def test_fair_esm_file_loads_identically(esm_hf, tmp_path):
    a = load_esm(esm_hf)
    b = load_esm(write_esm_fair(tmp_path / "esm2_t3_tiny.pt", CFG, seed=3))
    seqs = proteins(4)
    assert torch.equal(ours(a, seqs), ours(b, seqs))


def test_pytorch_model_bin_format(tmp_path):
    a = load_esm(write_esm_hf(tmp_path / "st", CFG, seed=5))
    b = load_esm(write_esm_hf(tmp_path / "bin", CFG, seed=5, fmt="bin"))
    seqs = proteins(5)
    assert torch.equal(ours(a, seqs), ours(b, seqs))


def test_pooling_truncates_at_1024_residues(tmp_path):
    model = load_esm(write_esm_hf(tmp_path / "m", ESM2Config(1, 32, 2), seed=1))
    model.attention_backend = "sdpa"
    s = "".join(random.Random(0).choice(AA) for _ in range(1100))
    batch = pack([encode_protein(s)])
    with torch.no_grad():
        h = model.hidden_states(batch)
        got = model(batch)
    assert torch.allclose(got[0], h[1:1025].mean(0), atol=1e-6)


def test_transformers_5_checkpoint_loads(tmp_path):
    """save_pretrained of transformers 5.x: one shared rotary table, LayerNorm gamma/beta, any intermediate_size."""
    transformers = pytest.importorskip("transformers")
    cfg = transformers.EsmConfig(vocab_size=33, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                 intermediate_size=96, position_embedding_type="rotary", token_dropout=True,
                                 mask_token_id=32, pad_token_id=1, emb_layer_norm_before=False)
    torch.manual_seed(0)
    ref = transformers.EsmModel(cfg, add_pooling_layer=False).eval()
    with torch.no_grad():
        for p in ref.parameters():
            p.normal_(0, 0.2)
    ref.save_pretrained(tmp_path)
    _check_renamed_checkpoint(tmp_path)
    model = load_esm(tmp_path)
    assert model.cfg.ffn_dim == 96
    _assert_equals_transformers(model, ref, [s for s in proteins(2) if "<" not in s])


def _check_renamed_checkpoint(path) -> None:
    """The file really uses the names this test is about (if transformers changes them, rewrite them so)."""
    from safetensors.torch import load_file, save_file

    state = load_file(str(path / "model.safetensors"))
    inv = [k for k in state if k.endswith("inv_freq")]
    if len(inv) > 1:  # an older transformers: per-layer tables -> one shared table, as 5.x writes
        table = state[inv[0]]
        state = {k: v for k, v in state.items() if k not in inv} | {"rotary_embeddings.inv_freq": table}
    state = {(k[:-6] + "gamma" if k.endswith("LayerNorm.weight") else k[:-4] + "beta" if k.endswith("LayerNorm.bias")
              else k): v for k, v in state.items()}
    save_file(state, str(path / "model.safetensors"))
    assert sum(k.endswith("inv_freq") for k in state) == 1 and any(k.endswith(".gamma") for k in state)


def test_cpu_rotary_tables_are_the_rounded_libm_values_whatever_the_threads():
    """On the CPU, cos/sin come from one table of float64 libm values rounded once: MKL's vector cos gave the same
    angles other last bits from call to call on a loaded machine (a subprocess run's first unit then differed
    from an in-process run's). Within 1 ulp of torch's fp32 cos/sin, identical from every thread."""
    import math
    import threading

    from virnucpro.models.esm2 import rotary_tables

    inv_freq = 1.0 / 10000 ** (torch.arange(0, 128, 2).float() / 128)  # ESM-2 3B's head dim
    pos = torch.cat([torch.arange(n) for n in (1026, 3, 700, 168)])  # (T,)
    cos, sin = rotary_tables(inv_freq, pos)  # (T, 1, 64)
    angles = pos.float()[:, None] * inv_freq[None, :]
    for t, j in [(0, 0), (1025, 0), (1025, 63), (1500, 7), (len(pos) - 1, 31)]:
        a = float(angles[t, j])
        assert cos[t, 0, j].item() == float(torch.tensor(math.cos(a), dtype=torch.float64).float())
        assert sin[t, 0, j].item() == float(torch.tensor(math.sin(a), dtype=torch.float64).float())
    ulp = torch.finfo(torch.float32).eps
    assert (cos[:, 0] - angles.cos()).abs().max() <= ulp and (sin[:, 0] - angles.sin()).abs().max() <= ulp
    seen = []
    workers = [threading.Thread(target=lambda: seen.append(rotary_tables(inv_freq, pos))) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(seen) == 4 and all(torch.equal(c, cos) and torch.equal(s, sin) for c, s in seen)
