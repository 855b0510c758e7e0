"""DNABERT-2 / DNABERT-S (MosaicBERT: post-LN, ALiBi, gated GELU) over packed batches."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from virnucpro.models.attention import AttentionPlan, alibi_slopes, choose_backend, run_planned
from virnucpro.models.capabilities import DeviceCaps
from virnucpro.models.packing import PackedBatch, segment_mean


@dataclass(frozen=True)
class DnaBertConfig:
    """Architecture fields of DNABERT's config.json."""

    vocab_size: int = 4096
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_json(cls, d: dict) -> "DnaBertConfig":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


DNABERT_S = DnaBertConfig()


class BertLayer(nn.Module):
    """Post-LN layer: LN(x + attn(x)), then LN(x + wo(gelu(g1) * g2))."""

    def __init__(self, cfg: DnaBertConfig) -> None:
        super().__init__()
        d, i = cfg.hidden_size, cfg.intermediate_size
        self.heads, self.head_dim = cfg.num_attention_heads, cfg.head_dim
        self.Wqkv = nn.Linear(d, 3 * d)  # q | k | v, heads contiguous inside each
        self.attn_out = nn.Linear(d, d)
        self.attn_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.gated = nn.Linear(d, 2 * i, bias=False)  # [GELU input | linear gate]
        self.wo = nn.Linear(i, d)
        self.mlp_norm = nn.LayerNorm(d, eps=cfg.layer_norm_eps)
        self.inner = i
        self.compiled = False

    def qkv(self, x: torch.Tensor, padded: torch.Tensor | None = None):
        """x (T, D) -> q, k, v (T, H, Dh); with `padded` (Tp, 3D, zero tail) written in place, views of it."""
        if padded is None:
            return self.Wqkv(x).view(x.shape[0], 3, self.heads, self.head_dim).unbind(1)
        torch.addmm(self.Wqkv.bias, x, self.Wqkv.weight.t(), out=padded[: x.shape[0]])  # no per-layer pad copy
        return padded.view(padded.shape[0], 3, self.heads, self.head_dim).unbind(1)

    def post_attention(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Post-LN residual blocks around the attention output a (T, H, Dh). (T, D)"""
        n1, n2 = self.attn_norm, self.mlp_norm
        return _post_kernel(self.compiled)(x, a, self.attn_out.weight, self.attn_out.bias, n1.weight, n1.bias, n1.eps,
                                           self.gated.weight, self.wo.weight, self.wo.bias, n2.weight, n2.bias)


def _post_attention(x, a, out_w, out_b, ln1_w, ln1_b, eps: float, gated_w, wo_w, wo_b, ln2_w, ln2_b):
    d = x.shape[1]
    x = F.layer_norm(F.linear(a.flatten(1), out_w, out_b) + x, (d,), ln1_w, ln1_b, eps)
    g = F.linear(x, gated_w)  # (T, 2I)
    inner = g.shape[1] // 2
    h = F.gelu(g[:, :inner]) * g[:, inner:]  # exact GELU on the FIRST half
    return F.layer_norm(F.linear(h, wo_w, wo_b) + x, (d,), ln2_w, ln2_b, eps)


@functools.lru_cache(maxsize=2)
def _post_kernel(compiled: bool):
    """Module-free so one compilation serves every layer."""
    return torch.compile(_post_attention, dynamic=True) if compiled else _post_attention


def attention_kernel(cfg: DnaBertConfig, x: torch.Tensor, requested: str = "auto",
                     caps: DeviceCaps | None = None) -> str:
    """The attention kernel (with its ALiBi bias) of DNABERT `cfg` for hidden states x (T, D) (a meta tensor will
    do): chosen from the queries' shape (T, H, Dh), whose last axis is the head dimension (never D)."""
    q_shape = x.unflatten(-1, (cfg.num_attention_heads, cfg.head_dim))  # (T, H, Dh), a view
    return choose_backend(requested, q_shape, has_bias=True, caps=caps)


class DnaBert(nn.Module):
    """DNABERT encoder; `forward` returns the mean of the last layer over all tokens ([CLS]..[SEP])."""

    pad_token_id = 3  # [PAD], used for filler sequences of fixed-shape batches

    def __init__(self, cfg: DnaBertConfig = DNABERT_S) -> None:
        super().__init__()
        self.cfg = cfg
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.emb_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.layers = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.attention_backend = "auto"
        self.attention_pad_to: int | None = None  # fixed padded length for compiled kernels (set by the engine)
        self.compiled = False
        self._slopes: dict[torch.device, torch.Tensor] = {}  # fp32 always: not a buffer, so .half() can't round it

    def slopes(self, device: torch.device) -> torch.Tensor:
        """(H,) fp32 ALiBi slopes on `device`."""
        if device not in self._slopes:
            self._slopes[device] = torch.tensor(alibi_slopes(self.cfg.num_attention_heads), device=device)
        return self._slopes[device]

    def compile_blocks(self) -> None:
        """torch.compile the per-token post-attention block (bias, residual, LayerNorm, gated GELU)."""
        for layer in self.layers:
            layer.compiled = True
        self.compiled = True

    def attention_kernel(self, x: torch.Tensor, caps: DeviceCaps | None = None) -> str:
        """The attention kernel (with the ALiBi bias) a batch with hidden states x (T, D) runs on (caps: the
        device's facts, probed from x's device when None): chosen from the queries' shape (T, H, Dh)."""
        return attention_kernel(self.cfg, x, self.attention_backend, caps)

    def hidden_states(self, batch: PackedBatch) -> torch.Tensor:
        """Last-layer states of every token (no final LN beyond the per-layer post-LNs). (T, D)"""
        # token type 0 for every token: its learned row is added everywhere; no position embeddings (ALiBi)
        x = self.emb_norm(self.word_embeddings(batch.tokens) + self.token_type_embeddings.weight[0])
        slopes = self.slopes(x.device)
        scale = self.cfg.head_dim ** -0.5
        plan = AttentionPlan(self.attention_kernel(x), batch.cu_seqlens, batch.max_len, batch.seq_id, slopes, x.dtype,
                             self.attention_pad_to)  # masks built once per batch
        padded = x.new_zeros(plan.flex["Tp"], 3 * x.shape[1]) if plan.kind == "flex" else None
        for layer in self.layers:
            q, k, v = layer.qkv(x, padded)  # each (T or Tp, H, Dh)
            x = layer.post_attention(x, run_planned(q, k, v, plan, scale))
        return x

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        """(N, D) fp32 mean over all tokens of each sequence."""
        return segment_mean(self.hidden_states(batch), batch.cu_seqlens, max_len=batch.max_len)


def state_shapes(cfg: DnaBertConfig) -> dict[str, tuple[int, ...]]:
    """Every state-dict entry of `DnaBert(cfg)` and its shape, without building it (checks before loading)."""
    d, i = cfg.hidden_size, cfg.intermediate_size
    layer = {"Wqkv.weight": (3 * d, d), "Wqkv.bias": (3 * d,), "attn_out.weight": (d, d), "attn_out.bias": (d,),
             "attn_norm.weight": (d,), "attn_norm.bias": (d,), "gated.weight": (2 * i, d), "wo.weight": (d, i),
             "wo.bias": (d,), "mlp_norm.weight": (d,), "mlp_norm.bias": (d,)}
    out = {"word_embeddings.weight": (cfg.vocab_size, d), "token_type_embeddings.weight": (cfg.type_vocab_size, d),
           "emb_norm.weight": (d,), "emb_norm.bias": (d,)}
    out.update({f"layers.{n}.{k}": s for n in range(cfg.num_hidden_layers) for k, s in layer.items()})
    return out
