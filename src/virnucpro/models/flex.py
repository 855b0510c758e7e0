"""FlexAttention for packed sequences: document block mask + optional symmetric ALiBi score_mod.

The BlockMask is built directly from the sequence boundaries (no O(T^2) mask evaluation): query
block b may only see the key blocks spanned by the documents it touches. Inputs are padded to a
multiple of PAD_MULTIPLE tokens, each 128-token pad block its own document, so the compiled
kernel sees few distinct shapes. Compiled on CUDA; eager elsewhere (correct, unfused: CPU tests).
"""

from __future__ import annotations

import functools

import torch

BLOCK = 64  # BlockMask block and CUDA kernel tile: short documents fill 64x64 tiles better (bench/NOTES.md run 9)
PAD_MULTIPLE = 8192  # shape buckets for the compiled kernel


@functools.lru_cache(maxsize=None)
def _compiled_flex():
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def padded_doc_ids(seq_id: torch.Tensor, multiple: int) -> torch.Tensor:
    """(Tp,) document id per token, Tp a multiple of `multiple` (and of BLOCK); pad blocks get fresh ids."""
    T = len(seq_id)
    Tp = -(-T // multiple) * multiple
    pad_ids = torch.arange(Tp - T, device=seq_id.device) // BLOCK + (seq_id[-1] + 1 if T else 0)
    return torch.cat([seq_id, pad_ids])


def doc_block_mask(doc: torch.Tensor):
    """BlockMask for `doc` (Tp,) non-decreasing ids, Tp % BLOCK == 0: attend iff same document."""
    from torch.nn.attention.flex_attention import BlockMask

    Tp = len(doc)
    nb = Tp // BLOCK
    first = torch.arange(nb, device=doc.device) * BLOCK
    kv_lo = torch.searchsorted(doc, doc[first], side="left") // BLOCK  # (nb,) first key block needed
    kv_hi = (torch.searchsorted(doc, doc[first + BLOCK - 1], side="right") - 1) // BLOCK
    num = (kv_hi - kv_lo + 1).to(torch.int32)
    idx = (kv_lo[:, None] + torch.arange(nb, device=doc.device)[None, :]).clamp(max=nb - 1).to(torch.int32)

    def same_doc(b, h, qi, ki):
        return doc[qi] == doc[ki]

    return BlockMask.from_kv_blocks(num[None, None], idx[None, None], BLOCK_SIZE=BLOCK, mask_mod=same_doc,
                                    seq_lengths=(Tp, Tp), compute_q_blocks=False)


def flex_plan(seq_id: torch.Tensor, pad_to: int | None = None) -> dict:
    """Padded document ids and the BlockMask for one batch (shared by all layers).

    On CUDA the batch is padded to `pad_to` tokens when given (one compiled shape for every
    batch), else to a multiple of PAD_MULTIPLE.
    """
    T = len(seq_id)
    if seq_id.is_cuda and pad_to:
        multiple = max(-(-pad_to // BLOCK) * BLOCK, -(-T // BLOCK) * BLOCK)
    else:
        multiple = PAD_MULTIPLE if seq_id.is_cuda else BLOCK
    doc = padded_doc_ids(seq_id, multiple)
    return {"T": T, "Tp": len(doc), "block_mask": doc_block_mask(doc)}


def flex_run(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plan: dict, *, scale: float,
             slopes: torch.Tensor | None) -> torch.Tensor:
    """q, k, v: (T, H, D) -> (T, H, D); scores = q.k*scale - slope_h |i-j| within a sequence."""
    from torch.nn.attention.flex_attention import flex_attention

    T, Tp = plan["T"], plan["Tp"]
    score_mod = None
    if slopes is not None:
        sl = slopes.to(device=q.device, dtype=torch.float32)

        def score_mod(score, b, h, qi, ki):
            return score - sl[h] * (qi - ki).abs()

    if q.shape[0] != Tp:  # callers may hand in views of an already padded buffer
        q, k, v = (torch.nn.functional.pad(t, (0, 0, 0, 0, 0, Tp - T)) for t in (q, k, v))
    qh, kh, vh = (t.transpose(0, 1).unsqueeze(0) for t in (q, k, v))  # (1, H, Tp, D)
    if q.is_cuda:
        out = _compiled_flex()(qh, kh, vh, score_mod=score_mod, block_mask=plan["block_mask"], scale=scale,
                               kernel_options={"BLOCK_M": BLOCK, "BLOCK_N": BLOCK})  # (1, H, Tp, D)
    else:
        out = flex_attention(qh, kh, vh, score_mod=score_mod, block_mask=plan["block_mask"], scale=scale)
    return out[0, :, :T].transpose(0, 1)  # (T, H, D)
