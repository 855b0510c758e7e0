"""A straightforward reference of the whole method, one sequence at a time, in fp32.

Written from the spec, independent of the package's fast paths: per-codon preparation, an eager
DNABERT, fair-esm's ESM2, the classifier as explicit math, and the original's output rules.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from virnucpro.models.dnabert import DnaBertConfig
from virnucpro.prep.reference import prepare_records


def reference_slopes(n: int) -> list[float]:
    """MosaicBERT's rule, spelled out independently of the package."""
    def p2(k):
        start = 2 ** (-2 ** -(math.log2(k) - 3))
        return [start * start ** i for i in range(k)]
    if math.log2(n).is_integer():
        return p2(n)
    c = 2 ** math.floor(math.log2(n))
    return p2(c) + p2(2 * c)[0::2][: n - c]


def reference_embedding(sd: dict, cfg: DnaBertConfig, ids: list[int]) -> torch.Tensor:
    """One sequence, BertModel names, eager fp32: post-LN, ALiBi, gated GELU, mean over all tokens."""
    L, d, H = len(ids), cfg.hidden_size, cfg.num_attention_heads
    Dh, eps = d // H, cfg.layer_norm_eps
    x = sd["embeddings.word_embeddings.weight"][ids] + sd["embeddings.token_type_embeddings.weight"][0]
    x = F.layer_norm(x, (d,), sd["embeddings.LayerNorm.weight"], sd["embeddings.LayerNorm.bias"], eps)
    slopes = torch.tensor(reference_slopes(H))
    i = torch.arange(L)
    alibi = -slopes[:, None, None] * (i[None, :] - i[:, None]).abs()[None].float()  # (H, L, L)
    for n in range(cfg.num_hidden_layers):
        p = f"encoder.layer.{n}."
        qkv = x @ sd[p + "attention.self.Wqkv.weight"].T + sd[p + "attention.self.Wqkv.bias"]
        q, k, v = (t.reshape(L, H, Dh).transpose(0, 1) for t in qkv.split(d, dim=1))
        s = q @ k.transpose(1, 2) / math.sqrt(Dh) + alibi
        a = (s.softmax(-1) @ v).transpose(0, 1).reshape(L, d)
        a = a @ sd[p + "attention.output.dense.weight"].T + sd[p + "attention.output.dense.bias"]
        x = F.layer_norm(a + x, (d,), sd[p + "attention.output.LayerNorm.weight"],
                         sd[p + "attention.output.LayerNorm.bias"], eps)
        g = x @ sd[p + "mlp.gated_layers.weight"].T
        h = F.gelu(g[:, : cfg.intermediate_size]) * g[:, cfg.intermediate_size:]
        h = h @ sd[p + "mlp.wo.weight"].T + sd[p + "mlp.wo.bias"]
        x = F.layer_norm(h + x, (d,), sd[p + "mlp.layernorm.weight"], sd[p + "mlp.layernorm.bias"], eps)
    return x.mean(0)



def fair_esm_model(esm_cfg, seed: int):
    """fair-esm's ESM2 with the tiny factory's weights (needs the fair-esm test extra)."""
    import esm

    from virnucpro.testing.factory import fair_state_dict_for_esm2

    alphabet = esm.data.Alphabet.from_architecture("ESM-1b")
    model = esm.model.esm2.ESM2(num_layers=esm_cfg.num_layers, embed_dim=esm_cfg.embed_dim,
                                attention_heads=esm_cfg.attention_heads, alphabet=alphabet, token_dropout=True)
    model.load_state_dict(fair_state_dict_for_esm2(esm_cfg, seed), strict=False)
    return model.eval(), alphabet


def esm_embedding(model, alphabet, protein: str) -> torch.Tensor:
    """VirNucPro's ESM pooling: mean of representations[L][1 : min(1024, len) + 1]."""
    _, _, tokens = alphabet.get_batch_converter()([("p", protein)])
    with torch.no_grad():
        rep = model(tokens, repr_layers=[model.num_layers])["representations"][model.num_layers]
    return rep[0, 1:min(1024, len(protein)) + 1].mean(0)


def classifier_probs(clf, x: torch.Tensor) -> np.ndarray:
    """softmax(W2 relu(BN(W1 x + b1)) + b2) with running statistics, as float32."""
    h = x @ clf.hidden_layer.weight.T + clf.hidden_layer.bias
    h = (h - clf.bn1.running_mean) / torch.sqrt(clf.bn1.running_var + clf.bn1.eps) * clf.bn1.weight + clf.bn1.bias
    logits = h.relu() @ clf.output_layer.weight.T + clf.output_layer.bias
    return torch.softmax(logits, dim=-1).detach().numpy().astype(np.float32)


def reference_predict(records, cs: int, dnabert_sd: dict, dnabert_cfg: DnaBertConfig, tokenizer, esm_model,
                      alphabet, clf):
    """Rows (frame_id, label, score1, score2) and consensus {Modified_ID: bool}, one sequence at a time."""
    rows, consensus = [], {}
    for _chunks, frames in prepare_records(records, cs):
        for fid, nuc, prot in frames:
            dna = reference_embedding(dnabert_sd, dnabert_cfg, tokenizer.encode_batch([nuc])[0])
            feat = torch.cat([dna, esm_embedding(esm_model, alphabet, prot)])[None]
            p0, p1 = classifier_probs(clf, feat)[0]
            rows.append((fid, "virus" if p1 > p0 else "others", p0, p1))
    by_chunk: dict[str, list] = {}
    for fid, _, p0, p1 in rows:
        by_chunk.setdefault(fid[:-2], []).append((p0, p1))
    for mid, ps in by_chunk.items():
        consensus[mid] = max(p[1] for p in ps) >= max(p[0] for p in ps)
    return rows, consensus
