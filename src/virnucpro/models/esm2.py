"""ESM-2 (fair-esm `ESM2`) over packed batches, returning VirNucPro's pooled embeddings."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from virnucpro.models.attention import packed_attention
from virnucpro.models.packing import PackedBatch, segment_mean

MASK_ID = 32
MASK_RATIO_TRAIN = 0.15 * 0.8  # token dropout: embeddings scaled by (1 - 0.12) / (1 - observed mask ratio)
POOL_MAX_RESIDUES = 1024  # VirNucPro averages residues 1..min(len, 1024)


@dataclass(frozen=True)
class ESM2Config:
    """ESM-2 architecture (fair-esm hard-codes ffn = 4 * embed_dim, LayerNorm eps 1e-5)."""

    num_layers: int
    embed_dim: int
    attention_heads: int
    vocab_size: int = 33
    layer_norm_eps: float = 1e-5
    token_dropout: bool = True

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.attention_heads

    @property
    def ffn_dim(self) -> int:
        return 4 * self.embed_dim


PRESETS = {
    "esm2_t6_8M_UR50D": ESM2Config(6, 320, 20),
    "esm2_t12_35M_UR50D": ESM2Config(12, 480, 20),
    "esm2_t30_150M_UR50D": ESM2Config(30, 640, 20),
    "esm2_t33_650M_UR50D": ESM2Config(33, 1280, 20),
    "esm2_t36_3B_UR50D": ESM2Config(36, 2560, 40),
    "esm2_t48_15B_UR50D": ESM2Config(48, 5120, 40),
}


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """NeoX-style half split: (x1, x2) -> (-x2, x1)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class ESMLayer(nn.Module):
    """Pre-LN transformer layer with fused q|k|v and rotary attention."""

    def __init__(self, cfg: ESM2Config) -> None:
        super().__init__()
        d = cfg.embed_dim
        self.heads, self.head_dim = cfg.attention_heads, cfg.head_dim
        self.attn_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.qkv = nn.Linear(d, 3 * d)  # rows: q | k | v (fused at load time)
        self.out_proj = nn.Linear(d, d)
        self.ffn_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.fc1 = nn.Linear(d, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, d)
        # inv_freq comes from the checkpoint (it was stored after an fp16 round trip in training)
        self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))

    def rotary(self, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin tables (T, 1, D) in fp32 for per-sequence positions `pos` (T,)."""
        freqs = pos.float()[:, None] * self.inv_freq.float()[None, :]  # (T, D/2)
        emb = torch.cat((freqs, freqs), dim=-1)[:, None, :]  # (T, 1, D)
        return emb.cos(), emb.sin()

    def forward(self, x: torch.Tensor, batch: PackedBatch, backend: str) -> torch.Tensor:
        T, d = x.shape
        h = self.attn_norm(x)
        q, k, v = self.qkv(h).view(T, 3, self.heads, self.head_dim).unbind(1)  # each (T, H, Dh)
        q = q * self.head_dim ** -0.5  # fair-esm scales q before the rotary embedding
        cos, sin = self.rotary(batch.pos)
        q = (q.float() * cos + rotate_half(q.float()) * sin).to(x.dtype)
        k = (k.float() * cos + rotate_half(k.float()) * sin).to(x.dtype)
        a = packed_attention(q, k, v, batch.cu_seqlens, batch.max_len, scale=1.0, backend=backend,
                             seq_id=batch.seq_id)  # (T, H, Dh)
        x = x + self.out_proj(a.reshape(T, d))
        return x + self.fc2(F.gelu(self.fc1(self.ffn_norm(x))))  # exact (erf) GELU


class ESM2(nn.Module):
    """ESM-2 encoder; `forward` returns per-sequence means of the final (post-LN) representation."""

    def __init__(self, cfg: ESM2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=1)
        self.layers = nn.ModuleList(ESMLayer(cfg) for _ in range(cfg.num_layers))
        self.final_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.attention_backend = "auto"

    def embed(self, batch: PackedBatch) -> torch.Tensor:
        """Token embeddings with ESM-2's inference-time token dropout scaling. (T, D)"""
        x = self.embed_tokens(batch.tokens)  # (T, D)
        if not self.cfg.token_dropout:
            return x
        is_mask = batch.tokens == MASK_ID
        x = x.masked_fill(is_mask[:, None], 0.0)
        n_mask = torch.zeros(batch.num_seqs, device=x.device).index_add_(0, batch.seq_id, is_mask.float())
        ratio = n_mask / batch.lengths.float()  # (N,) lengths count BOS and EOS, as fair-esm's src_lengths
        scale = (1 - MASK_RATIO_TRAIN) / (1 - ratio)  # 0.88 for sequences without <mask>
        return (x * scale[batch.seq_id][:, None]).to(x.dtype)

    def hidden_states(self, batch: PackedBatch) -> torch.Tensor:
        """Final representation (after emb_layer_norm_after) of every token. (T, D)"""
        x = self.embed(batch)
        for layer in self.layers:
            x = layer(x, batch, self.attention_backend)
        return self.final_norm(x)

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        """(N, D) fp32 mean over residues 1..min(L, 1024) of each `<cls> residues <eos>` sequence."""
        x = self.hidden_states(batch)
        residues = batch.lengths - 2  # (N,)
        last = torch.clamp(residues, max=POOL_MAX_RESIDUES)[batch.seq_id]  # (T,)
        keep = (batch.pos >= 1) & (batch.pos <= last)
        return segment_mean(x, batch.seq_id, batch.num_seqs, keep)
