"""Every attention backend available on CPU equals the fp32 reference (document mask +/- ALiBi)."""

from __future__ import annotations

import pytest
import torch

from virnucpro.models.attention import alibi_slopes, choose_backend, packed_attention
from virnucpro.models.packing import from_lengths, pack, segment_mean


def _qkv(lengths, heads=6, dim=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    T = sum(lengths)
    return [torch.randn(T, heads, dim, generator=g) for _ in range(3)]


@pytest.mark.parametrize("alibi", [False, True])
@pytest.mark.parametrize("backend", ["sdpa", "flex"])
def test_backends_match_reference(backend, alibi):
    lengths = [3, 1, 130, 17, 64]
    q, k, v = _qkv(lengths)
    b = from_lengths(torch.zeros(sum(lengths), dtype=torch.long), torch.tensor(lengths))
    slopes = torch.tensor(alibi_slopes(6)) if alibi else None
    ref = packed_attention(q, k, v, b.cu_seqlens, b.max_len, scale=0.25, slopes=slopes, backend="reference")
    got = packed_attention(q, k, v, b.cu_seqlens, b.max_len, scale=0.25, slopes=slopes, backend=backend,
                           seq_id=b.seq_id)
    assert (got - ref).abs().max() <= 1e-5


def test_auto_on_cpu_is_sdpa():
    q = torch.zeros(4, 2, 8)
    assert choose_backend("auto", q, has_bias=True) == "sdpa"
    assert choose_backend("auto", q, has_bias=False) == "sdpa"


def test_pack_bookkeeping():
    b = pack([[5, 6, 7], [8, 9], [1, 2, 3, 4, 5]])
    assert b.cu_seqlens.tolist() == [0, 3, 5, 10]
    assert b.seq_id.tolist() == [0, 0, 0, 1, 1, 2, 2, 2, 2, 2]
    assert b.pos.tolist() == [0, 1, 2, 0, 1, 0, 1, 2, 3, 4]
    assert b.max_len == 5 and b.num_seqs == 3 and b.num_tokens == 10


def test_segment_mean_with_selection():
    x = torch.arange(10, dtype=torch.float32)[:, None]
    cu = torch.tensor([0, 3, 5, 10], dtype=torch.int32)
    assert segment_mean(x, cu).flatten().tolist() == [1.0, 3.5, 7.0]
    keep = torch.tensor([0, 1, 0, 1, 1, 0, 1, 1, 1, 0], dtype=torch.bool)
    assert segment_mean(x, cu, keep).flatten().tolist() == [1.0, 3.5, 7.0]


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def test_segment_mean_is_exact_and_the_same_every_run(device):
    """Large offsets and many rows: fp32 accumulation stays within a few fp32 ulps of the fp64 truth, and
    repeated runs give the same bits (CUDA atomics did not)."""
    torch.manual_seed(0)
    lengths = torch.randint(1, 400, (300,))
    cu = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)]).to(device)
    x = (torch.randn(int(lengths.sum()), 64) * 3 + 1000).to(device, torch.float16)
    got = segment_mean(x, cu)
    want = torch.stack([x[a:b].double().mean(0) for a, b in zip(cu[:-1].tolist(), cu[1:].tolist())])
    assert ((got.double() - want).abs() / want.abs()).max() < 4e-7
    assert all(torch.equal(got, segment_mean(x, cu, max_len=int(lengths.max()))) for _ in range(3))


def test_direct_document_block_mask_equals_create_block_mask():
    from torch.nn.attention.flex_attention import create_block_mask

    from virnucpro.models.flex import BLOCK, doc_block_mask, padded_doc_ids

    seq = torch.repeat_interleave(torch.arange(6), torch.tensor([3, 200, 1, 130, 40, 300]))
    doc = padded_doc_ids(seq, 256)
    assert len(doc) % 256 == 0 and torch.equal(doc[: len(seq)], seq)
    ours = doc_block_mask(doc).to_dense()
    ref = create_block_mask(lambda b, h, q, k: doc[q] == doc[k], None, None, len(doc), len(doc), device="cpu",
                            BLOCK_SIZE=BLOCK)
    assert torch.equal(ours, ref.to_dense())


def test_pack_to_fixed_size_appends_short_filler_sequences():
    b = pack([[5, 6, 7], [8, 9]], pad_to=300, pad_id=1)
    assert b.num_tokens == 300
    assert b.lengths.tolist() == [3, 2, 128, 128, 39]
    assert b.tokens[5:].eq(1).all()
    assert pack([[1] * 400], pad_to=300).num_tokens == 400  # never truncates


def test_a_kernel_that_cannot_run_the_model_gives_way_to_sdpa():
    """Head dimension 8 is below FlexAttention's minimum: the chooser falls back instead of failing later."""
    q8, q16 = torch.zeros(4, 2, 8), torch.zeros(4, 2, 16)
    assert choose_backend("flex", q8, has_bias=True) == "sdpa"
    assert choose_backend("flex", q16, has_bias=True) == "flex"
    assert choose_backend("varlen", q16, has_bias=False) == "sdpa"  # CPU fp32: varlen_attn needs CUDA fp16/bf16
    assert choose_backend("reference", q8, has_bias=True) == "reference"
