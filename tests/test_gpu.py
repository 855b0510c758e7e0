"""GPU paths against the fp32 reference (run with `pytest -m gpu` on a CUDA machine)."""

from __future__ import annotations

import pytest
import torch

from virnucpro.models.attention import alibi_slopes, packed_attention
from virnucpro.models.packing import from_lengths

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def _case(lengths, heads, dim, dtype):
    g = torch.Generator(device="cuda").manual_seed(0)
    T = sum(lengths)
    q, k, v = (torch.randn(T, heads, dim, device="cuda", generator=g, dtype=dtype) for _ in range(3))
    b = from_lengths(torch.zeros(T, dtype=torch.long), torch.tensor(lengths)).to("cuda")
    return q, k, v, b


@pytest.mark.parametrize("backend,alibi", [("varlen", False), ("flex", False), ("flex", True), ("sdpa", True)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_fast_attention_matches_reference(backend, alibi, dtype):
    lengths = [5, 1, 700, 33, 130, 64, 1000]
    q, k, v, b = _case(lengths, 12, 64, dtype)
    slopes = torch.tensor(alibi_slopes(12), device="cuda") if alibi else None
    ref = packed_attention(q.float(), k.float(), v.float(), b.cu_seqlens, b.max_len, scale=0.125, slopes=slopes,
                           backend="reference")
    got = packed_attention(q, k, v, b.cu_seqlens, b.max_len, scale=0.125, slopes=slopes, backend=backend,
                           seq_id=b.seq_id)
    assert torch.isfinite(got).all()
    tol = 2e-2 if dtype == torch.float16 else 6e-2
    assert (got.float() - ref).abs().max() < tol


@pytest.mark.parametrize("compile_blocks", [False, True])
def test_engine_fp16_matches_fp32_cpu(tmp_path, compile_blocks):
    from virnucpro.engine.embedder import EngineConfig, Embedder
    from virnucpro.models.loaders import load_dnabert, load_esm
    from virnucpro.testing.factory import write_dnabert, write_esm_hf
    from virnucpro.models.esm2 import ESM2Config
    from virnucpro.models.dnabert import DnaBertConfig

    esm_dir = write_esm_hf(tmp_path / "esm", ESM2Config(4, 256, 4), seed=1)
    dna_dir = write_dnabert(tmp_path / "dna", DnaBertConfig(vocab_size=256, hidden_size=192, num_hidden_layers=3,
                                                            num_attention_heads=12, intermediate_size=384), seed=1)
    import random

    rnd = random.Random(0)
    nucs = ["".join(rnd.choice("ACGT") for _ in range(rnd.randint(20, 500))) for _ in range(300)]
    prots = ["".join(rnd.choice("ACDEFGHIKLMNPQRSTVWY") for _ in range(rnd.randint(1, 170))) for _ in range(300)]
    ids = [str(i) for i in range(300)]
    outs = []
    for device, dtype, comp in (("cpu", torch.float32, False), ("cuda", torch.float16, compile_blocks)):
        dna, tok = load_dnabert(dna_dir)
        e = Embedder(dna, tok, load_esm(esm_dir), EngineConfig(device=device, dtype=dtype, compile=comp,
                                                                esm_batch_tokens=8192, dnabert_batch_tokens=8192))
        outs.append(e.features(e.tokenize(ids, nucs, prots)))
    cos = torch.nn.functional.cosine_similarity(outs[0], outs[1], dim=1)
    assert cos.min() > 0.999, cos.min()


def test_two_workers_on_one_gpu_same_bytes_as_one(tmp_path, tiny_models):
    """Two worker processes sharing the GPU compute the same tables as one worker (SDPA: the tiny models' head
    dimension of 8 is below what compiled FlexAttention takes)."""
    from conftest import GOLDEN
    from virnucpro.commands import predict as cmd_predict
    from virnucpro.models.store import ModelRefs

    refs = ModelRefs(dnabert=str(tiny_models.dnabert_dir), esm=str(tiny_models.esm_dir),
                     classifier=str(tiny_models.classifier))
    outs = []
    for devices in ("cuda:0", "cuda:0,cuda:0"):
        outs.append(tmp_path / devices.replace(":", "_").replace(",", "-"))
        cmd_predict.run(cmd_predict.PredictConfig(inputs=[str(GOLDEN / "input.fa")], output_dir=outs[-1], models=refs,
                                                  offline=True, device=devices, unit_frames=64, attention="sdpa",
                                                  compile="off", progress=False))
    for name in ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_same_run_twice_gives_the_same_bytes(tmp_path, tiny_models):
    """GPU results do not depend on the order in which threads finish (pooling once used atomic adds)."""
    from conftest import GOLDEN
    from virnucpro.commands import predict as cmd_predict
    from virnucpro.models.store import ModelRefs

    refs = ModelRefs(dnabert=str(tiny_models.dnabert_dir), esm=str(tiny_models.esm_dir),
                     classifier=str(tiny_models.classifier))
    for name in ("a", "b"):
        cmd_predict.run(cmd_predict.PredictConfig(inputs=[str(GOLDEN / "input.fa")], output_dir=tmp_path / name,
                                                  models=refs, offline=True, device="cuda:0", attention="sdpa",
                                                  compile="off", progress=False))
    for name in ("prediction_results.txt", "prediction_results_highestscore.csv", "sequences.tsv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
