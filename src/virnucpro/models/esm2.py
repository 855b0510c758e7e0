"""ESM-2 (fair-esm `ESM2`) over packed batches, returning VirNucPro's pooled embeddings."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from virnucpro.models.attention import AttentionPlan, choose_backend, choose_linear, run_planned
from virnucpro.models.capabilities import DeviceCaps
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
    intermediate_size: int = 0  # 0 = 4 * embed_dim, as fair-esm; HF config.json states it

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.attention_heads

    @property
    def ffn_dim(self) -> int:
        return self.intermediate_size or 4 * self.embed_dim


PRESETS = {
    "esm2_t6_8M_UR50D": ESM2Config(6, 320, 20),
    "esm2_t12_35M_UR50D": ESM2Config(12, 480, 20),
    "esm2_t30_150M_UR50D": ESM2Config(30, 640, 20),
    "esm2_t33_650M_UR50D": ESM2Config(33, 1280, 20),
    "esm2_t36_3B_UR50D": ESM2Config(36, 2560, 40),
    "esm2_t48_15B_UR50D": ESM2Config(48, 5120, 40),
}


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
        self.compiled = False
        self.linear = "plain"  # plain | fp8 | fp8_reference: see attention.choose_linear
        self.fp8: dict[str, tuple[torch.Tensor, ...]] = {}  # FP8 weights of the linears, from fp8.quantize_esm
        self.register_buffer("inv_freq", 1.0 / 10000 ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))

    def pre_attention(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
        """LayerNorm, fused q|k|v, q scaling and rotary (in fp32). x (T, D) -> q, k, v (T, H, Dh)."""
        n = self.attn_norm
        return kernels(self.compiled, self.linear)[0](x, cos, sin, n.weight, n.bias, n.eps, self.weights("qkv"),
                                                      self.heads)

    def post_attention(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Output projection + residual, then the pre-LN MLP block with exact (erf) GELU. (T, D)"""
        n = self.ffn_norm
        return kernels(self.compiled, self.linear)[1](x, a, self.weights("out_proj"), n.weight, n.bias, n.eps,
                                                      self.weights("fc1"), self.weights("fc2"))

    def weights(self, name: str) -> tuple[torch.Tensor, ...]:
        """Arguments of the chosen linear kernel after x: (weight, bias), or FP8's (wq, scale, bias)."""
        if self.linear == "plain" or name not in self.fp8:
            lin = getattr(self, name)
            return lin.weight, lin.bias
        return self.fp8[name]


def blocks(linear):
    """(pre_attention, post_attention) around the linear kernel `linear(x, *weights)`."""

    def pre_attention(x, cos, sin, ln_w, ln_b, eps: float, qkv: tuple, heads: int):
        T, d = x.shape
        head_dim = d // heads
        q, k, v = linear(F.layer_norm(x, (d,), ln_w, ln_b, eps), *qkv).view(T, 3, heads, head_dim).unbind(1)
        # fair-esm scales q before the rotary embedding; rotation is linear, so the scale folds into the tables
        scale = head_dim ** -0.5
        return _rotate(q, cos * scale, sin * scale), _rotate(k, cos, sin), v

    def post_attention(x, a, out: tuple, ln_w, ln_b, eps: float, fc1: tuple, fc2: tuple):
        x = x + linear(a.flatten(1), *out)
        h = F.gelu(linear(F.layer_norm(x, (x.shape[1],), ln_w, ln_b, eps), *fc1))  # exact (erf) GELU
        return x + linear(h, *fc2)

    return pre_attention, post_attention


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """NeoX rotary in fp32 with half tables cos, sin (T, 1, Dh/2): (x1, x2) -> (x1 c - x2 s, x2 c + x1 s)."""
    x1, x2 = x.float().chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).to(x.dtype)


@functools.lru_cache(maxsize=8)
def kernels(compiled: bool, linear: str = "plain"):
    """(pre_attention, post_attention) for a linear kind: module-free so one compilation serves every layer."""
    pre, post = blocks(choose_linear(linear))
    if not compiled:
        return pre, post
    return torch.compile(pre, dynamic=False), torch.compile(post, dynamic=False)


def rotary_tables(inv_freq: torch.Tensor, pos: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Half tables cos, sin (T, 1, Dh/2) in fp32 for per-sequence positions `pos` (T,).

    fair-esm uses emb = cat(freqs, freqs); both halves are equal, so half tables suffice.
    On the CPU the values are gathered from `exact_cpu_tables`: torch's CPU cos/sin (MKL's vector math) gave
    the same input different last bits from one call to the next (seen in a run's first unit on a loaded
    machine), and a run's bytes must not depend on the machine's load.
    """
    if pos.device.type == "cpu":
        cos, sin = exact_cpu_tables(tuple(inv_freq.float().tolist()), int(pos.max()) + 1 if pos.numel() else 1)
        return cos[pos][:, None, :], sin[pos][:, None, :]
    freqs = pos.float()[:, None] * inv_freq.float()[None, :]  # (T, Dh/2)
    return freqs.cos()[:, None, :], freqs.sin()[:, None, :]


def exact_cpu_tables(inv_freq: tuple[float, ...], positions: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin (P, Dh/2) fp32 of the fp32 angles pos * inv_freq for pos < P (at least `positions`), each
    the float64 libm value rounded once: the same bits on every call, thread count and load."""
    size = 1 << max(10, (positions - 1).bit_length())  # a few sizes per process: ESM-2 has 1,026 positions
    return _exact_tables(inv_freq, size)


@functools.lru_cache(maxsize=8)
def _exact_tables(inv_freq: tuple[float, ...], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    import math

    angles = torch.arange(size).float()[:, None] * torch.tensor(inv_freq)[None, :]  # (P, Dh/2) fp32, as on a GPU
    values = angles.flatten().tolist()
    cos = torch.tensor([math.cos(a) for a in values], dtype=torch.float64).float().view(angles.shape)
    sin = torch.tensor([math.sin(a) for a in values], dtype=torch.float64).float().view(angles.shape)
    return cos, sin


def attention_kernel(cfg: ESM2Config, x: torch.Tensor, requested: str = "auto", caps: DeviceCaps | None = None) -> str:
    """The attention kernel of ESM-2 `cfg` for hidden states x (T, D) (a meta tensor will do): chosen from the
    queries' shape (T, H, Dh), whose last axis is the head dimension (never the hidden size D)."""
    q_shape = x.unflatten(-1, (cfg.attention_heads, cfg.head_dim))  # (T, H, Dh), a view
    return choose_backend(requested, q_shape, has_bias=False, caps=caps)


class ESM2(nn.Module):
    """ESM-2 encoder; `forward` returns per-sequence means of the final (post-LN) representation."""

    pad_token_id = 1  # <pad>, used for filler sequences of fixed-shape batches

    def __init__(self, cfg: ESM2Config) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=1)
        self.layers = nn.ModuleList(ESMLayer(cfg) for _ in range(cfg.num_layers))
        self.final_norm = nn.LayerNorm(cfg.embed_dim, eps=cfg.layer_norm_eps)
        self.attention_backend = "auto"
        self.compiled = False
        self._rotary_groups: list[int] | None = None

    def rotary_groups(self) -> list[int]:
        """Group index per layer; layers with identical checkpoint inv_freq share one cos/sin table."""
        if self._rotary_groups is None:
            distinct: list[torch.Tensor] = []
            groups = []
            for layer in self.layers:
                match = [i for i, f in enumerate(distinct) if torch.equal(f, layer.inv_freq)]
                if not match:
                    distinct.append(layer.inv_freq)
                groups.append(match[0] if match else len(distinct) - 1)
            self._rotary_groups = groups
        return self._rotary_groups

    def compile_blocks(self) -> None:
        """torch.compile the per-token blocks (fuses LayerNorm, rotary, GELU, residuals); attention stays eager.

        Static shapes: the engine pads every batch to its token budget, so one compilation serves all.
        """
        for layer in self.layers:
            layer.compiled = True
        self.compiled = True

    def use_linear(self, kind: str) -> None:
        """Run the linear layers as `kind` (plain, or fp8 / fp8_reference after `fp8.quantize_esm`)."""
        assert kind == "plain" or all(layer.fp8 for layer in self.layers), "quantize_esm first"
        for layer in self.layers:
            layer.linear = kind

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

    def attention_kernel(self, x: torch.Tensor, caps: DeviceCaps | None = None) -> str:
        """The attention kernel a batch with hidden states x (T, D) runs on (caps: the device's facts, probed from
        x's device when None): chosen from the queries' shape (T, H, Dh), whose last axis is the head dimension."""
        return attention_kernel(self.cfg, x, self.attention_backend, caps)

    def hidden_states(self, batch: PackedBatch) -> torch.Tensor:
        """Final representation (after emb_layer_norm_after) of every token. (T, D)"""
        x = self.embed(batch)
        tables: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layers share inv_freq in practice
        plan = AttentionPlan(self.attention_kernel(x), batch.cu_seqlens, batch.max_len, batch.seq_id, None, x.dtype)
        for layer, key in zip(self.layers, self.rotary_groups()):
            if key not in tables:
                tables[key] = rotary_tables(layer.inv_freq, batch.pos)
            q, k, v = layer.pre_attention(x, *tables[key])  # each (T, H, Dh)
            x = layer.post_attention(x, run_planned(q, k, v, plan, scale=1.0))  # q is pre-scaled
        return self.final_norm(x)

    def forward(self, batch: PackedBatch) -> torch.Tensor:
        """(N, D) fp32 mean over residues 1..min(L, 1024) of each `<cls> residues <eos>` sequence."""
        x = self.hidden_states(batch)
        residues = batch.lengths - 2  # (N,)
        last = torch.clamp(residues, max=POOL_MAX_RESIDUES)[batch.seq_id]  # (T,)
        keep = (batch.pos >= 1) & (batch.pos <= last)
        return segment_mean(x, batch.cu_seqlens, keep, max_len=batch.max_len)


def state_shapes(cfg: ESM2Config) -> dict[str, tuple[int, ...]]:
    """Every state-dict entry of `ESM2(cfg)` and its shape, without building it (checks before loading)."""
    d, f = cfg.embed_dim, cfg.ffn_dim
    layer = {"attn_norm.weight": (d,), "attn_norm.bias": (d,), "qkv.weight": (3 * d, d), "qkv.bias": (3 * d,),
             "out_proj.weight": (d, d), "out_proj.bias": (d,), "ffn_norm.weight": (d,), "ffn_norm.bias": (d,),
             "fc1.weight": (f, d), "fc1.bias": (f,), "fc2.weight": (d, f), "fc2.bias": (d,),
             "inv_freq": ((cfg.head_dim + 1) // 2,)}
    out = {"embed_tokens.weight": (cfg.vocab_size, d), "final_norm.weight": (d,), "final_norm.bias": (d,)}
    out.update({f"layers.{i}.{k}": s for i in range(cfg.num_layers) for k, s in layer.items()})
    return out
