"""Tiny random models written in exactly the published on-disk formats (for tests and examples).

* ESM-2: a Hugging Face `EsmForMaskedLM` directory (config.json + model.safetensors or
  pytorch_model.bin, `esm.` keys, lm_head, contact head, position_ids) or a fair-esm `.pt` file
  (`{"cfg": {"model": Namespace(...)}, "model": {"encoder.sentence_encoder....": ...}}`).
* DNABERT-S: config.json, pytorch_model.bin (BertModel keys incl. pooler) and a BPE tokenizer.json
  trained on the fly with [UNK]=0 [CLS]=1 [SEP]=2 [PAD]=3 [MASK]=4.
* Classifier: a whole pickled `__main__.MLPClassifier`, made by a `__main__` script as the original did.

Every parameter is random (LayerNorm weights/biases and inv_freq-independent biases included), so
swapped or dropped parameters change the outputs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from virnucpro.models.dnabert import DnaBert, DnaBertConfig
from virnucpro.models.esm2 import ESM2, ESM2Config
from virnucpro.models.loaders import DNABERT_NAMES, ESM_FAIR_NAMES, ESM_HF_NAMES


@dataclass(frozen=True)
class TinyModels:
    esm_dir: Path
    dnabert_dir: Path
    classifier: Path


TINY_ESM = ESM2Config(num_layers=2, embed_dim=48, attention_heads=4)
TINY_DNABERT = DnaBertConfig(vocab_size=64, hidden_size=48, num_hidden_layers=2, num_attention_heads=6,
                             intermediate_size=96)


def randomize(module: torch.nn.Module, seed: int, scale: float = 0.2) -> torch.nn.Module:
    """Overwrite every floating parameter with random values (LN weights around 1), drawn on the module's device."""
    device = next(module.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=g, device=device) * scale
            p.copy_(1 + noise if name.endswith("norm.weight") else noise)
    return module


def _inverse(names, state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Our state dict -> checkpoint keys (splitting fused q|k|v), via the loader's own name map."""
    out = {}
    for src, (dst, part) in names.rules.items():
        for key, t in state.items():
            idx = _match(dst, key)
            if idx is None:
                continue
            out[prefix + src.replace("{}", idx)] = t.chunk(3, 0)[part].clone() if part is not None else t.clone()
    return out


def _match(pattern: str, key: str) -> str | None:
    import re

    m = re.fullmatch(re.escape(pattern).replace(r"\{\}", r"(\d+)"), key)
    if m is None:
        return None
    return m.group(1) if m.groups() else ""


def esm_state(cfg: ESM2Config = TINY_ESM, seed: int = 0, device: str = "cpu") -> dict[str, torch.Tensor]:
    import contextlib

    with torch.device(device) if device != "cpu" else contextlib.nullcontext():
        return randomize(ESM2(cfg), seed).state_dict()


def write_esm_hf(path: Path, cfg: ESM2Config = TINY_ESM, seed: int = 0, fmt: str = "safetensors",
                 device: str = "cpu") -> Path:
    """An HF `EsmForMaskedLM` directory with random weights (drawn on `device`: a GPU makes full-size ones fast)."""
    path.mkdir(parents=True, exist_ok=True)
    state = {k: v.cpu() for k, v in _inverse(ESM_HF_NAMES, esm_state(cfg, seed, device), "esm.").items()}
    d = cfg.embed_dim
    g = torch.Generator().manual_seed(seed + 1)
    state.update({"esm.embeddings.position_ids": torch.arange(1026)[None],
                  "lm_head.dense.weight": torch.randn(d, d, generator=g), "lm_head.dense.bias": torch.randn(d, generator=g),
                  "lm_head.layer_norm.weight": torch.randn(d, generator=g), "lm_head.layer_norm.bias": torch.randn(d, generator=g),
                  "lm_head.bias": torch.randn(cfg.vocab_size, generator=g),
                  "esm.contact_head.regression.weight": torch.randn(1, cfg.num_layers * cfg.attention_heads, generator=g),
                  "esm.contact_head.regression.bias": torch.randn(1, generator=g)})
    state["lm_head.decoder.weight"] = state["esm.embeddings.word_embeddings.weight"].clone()
    config = {"architectures": ["EsmForMaskedLM"], "model_type": "esm", "hidden_size": d,
              "num_hidden_layers": cfg.num_layers, "num_attention_heads": cfg.attention_heads,
              "intermediate_size": cfg.ffn_dim, "vocab_size": cfg.vocab_size, "mask_token_id": 32, "pad_token_id": 1,
              "layer_norm_eps": cfg.layer_norm_eps, "position_embedding_type": "rotary", "token_dropout": True,
              "emb_layer_norm_before": False, "max_position_embeddings": 1026, "hidden_dropout_prob": 0.0,
              "attention_probs_dropout_prob": 0.0, "hidden_act": "gelu", "is_folding_model": False,
              "torch_dtype": "float32"}
    (path / "config.json").write_text(json.dumps(config, indent=2))
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))
    else:
        torch.save(state, path / "pytorch_model.bin")
    return path


def write_esm_fair(path: Path, cfg: ESM2Config = TINY_ESM, seed: int = 0) -> Path:
    """A fair-esm style checkpoint: {'cfg': {'model': Namespace}, 'model': raw encoder.* keys}."""
    state = _inverse(ESM_FAIR_NAMES, esm_state(cfg, seed), "encoder.sentence_encoder.")
    d = cfg.embed_dim
    g = torch.Generator().manual_seed(seed + 1)
    state.update({"encoder.lm_head.dense.weight": torch.randn(d, d, generator=g),
                  "encoder.lm_head.dense.bias": torch.randn(d, generator=g),
                  "encoder.lm_head.layer_norm.weight": torch.randn(d, generator=g),
                  "encoder.lm_head.layer_norm.bias": torch.randn(d, generator=g),
                  "encoder.lm_head.weight": state["encoder.sentence_encoder.embed_tokens.weight"],
                  "encoder.lm_head.bias": torch.randn(cfg.vocab_size, generator=g)})
    model_cfg = argparse.Namespace(encoder_layers=cfg.num_layers, encoder_embed_dim=cfg.embed_dim,
                                   encoder_attention_heads=cfg.attention_heads, token_dropout=True, arch="esm2")
    torch.save({"cfg": {"model": model_cfg}, "model": state}, path)
    return path


def fair_state_dict_for_esm2(cfg: ESM2Config = TINY_ESM, seed: int = 0) -> dict[str, torch.Tensor]:
    """Keys of fair-esm's `ESM2` module (no encoder. prefix) for the same random weights."""
    return _inverse(ESM_FAIR_NAMES, esm_state(cfg, seed), "")


def dnabert_state(cfg: DnaBertConfig = TINY_DNABERT, seed: int = 0) -> dict[str, torch.Tensor]:
    return randomize(DnaBert(cfg), seed).state_dict()


def train_dna_tokenizer(vocab_size: int, seed: int = 0, corpus_size: int = 300):
    """A BPE tokenizer like DNABERT-2's: whitespace pre-tokenizer, specials 0..4, `[CLS] $A [SEP]`."""
    import random

    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=list("ACGTN"))
    rnd = random.Random(seed)
    corpus = ["".join(rnd.choice("ACGT") for _ in range(200)) for _ in range(corpus_size)]
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", 1), ("[SEP]", 2)])
    assert [tok.token_to_id(s) for s in specials] == [0, 1, 2, 3, 4]
    return tok


def write_dnabert(path: Path, cfg: DnaBertConfig = TINY_DNABERT, seed: int = 0, prefix: str = "",
                  fmt: str = "bin") -> Path:
    """A DNABERT-S directory: config.json, pytorch_model.bin (or safetensors), tokenizer.json."""
    path.mkdir(parents=True, exist_ok=True)
    tok = train_dna_tokenizer(cfg.vocab_size, seed)
    state = _inverse(DNABERT_NAMES, dnabert_state(cfg, seed), prefix)
    g = torch.Generator().manual_seed(seed + 2)
    d = cfg.hidden_size
    state[prefix + "pooler.dense.weight"] = torch.randn(d, d, generator=g)
    state[prefix + "pooler.dense.bias"] = torch.randn(d, generator=g)
    config = json.loads((Path(__file__).parent / "dnabert_s_config.json").read_text())
    config.update({k: getattr(cfg, k) for k in DnaBertConfig.__dataclass_fields__})
    (path / "config.json").write_text(json.dumps(config, indent=2))
    if fmt == "safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))
    else:
        torch.save(state, path / "pytorch_model.bin")
    tok.save(str(path / "tokenizer.json"))
    return path


LEGACY_CLASSIFIER_SCRIPT = """
import sys, torch, torch.nn as nn
if sys.argv[4] == "cuda":  # tag storages as CUDA ones, as the published files (saved on a GPU) are
    torch.serialization.location_tag = lambda storage: "cuda:0"
import torch.nn.functional as F
class MLPClassifier(nn.Module):  # as in the original prediction.py / train.py
    def __init__(self, input_dim, hidden_dim, num_class):
        super(MLPClassifier, self).__init__()
        self.hidden_layer = nn.Linear(input_dim, hidden_dim)
        self.bn1 = nn.BatchNorm1d(hidden_dim)
        self.output_layer = nn.Linear(hidden_dim, num_class)
        self.dropout = nn.Dropout(0.5)
    def forward(self, x):
        return self.output_layer(self.dropout(F.relu(self.bn1(self.hidden_layer(x)))))
torch.manual_seed(int(sys.argv[3]))
m = MLPClassifier(int(sys.argv[2]), 512, 2)
with torch.no_grad():
    for p in m.parameters():
        p.copy_(torch.randn_like(p) * 0.3)
    m.bn1.running_mean.copy_(torch.randn(512) * 0.1)
    m.bn1.running_var.copy_(torch.rand(512) + 0.5)
    m.bn1.num_batches_tracked.fill_(1000)
m.eval()
torch.save(m, sys.argv[1])
"""


def write_legacy_classifier(path: Path, input_dim: int = 3328, seed: int = 0, cuda_tagged: bool = True) -> Path:
    """A whole pickled `__main__.MLPClassifier`, saved by a `__main__` script like the original.

    With `cuda_tagged`, storages are recorded as living on cuda:0 (as in the published files), which
    plain `torch.load` cannot open on a machine without a GPU.
    """
    subprocess.run([sys.executable, "-c", LEGACY_CLASSIFIER_SCRIPT, str(path), str(input_dim), str(seed),
                    "cuda" if cuda_tagged else "cpu"], check=True)
    return path


def write_tiny_models(root: Path, seed: int = 0, esm_cfg: ESM2Config = TINY_ESM,
                      dnabert_cfg: DnaBertConfig = TINY_DNABERT) -> TinyModels:
    """All three tiny models under `root` (the classifier matches their embedding widths)."""
    root.mkdir(parents=True, exist_ok=True)
    esm = write_esm_hf(root / "esm", esm_cfg, seed)
    dna = write_dnabert(root / "dnabert", dnabert_cfg, seed)
    clf = write_legacy_classifier(root / "classifier.pth", dnabert_cfg.hidden_size + esm_cfg.embed_dim, seed)
    return TinyModels(esm, dna, clf)


def full_size_random_models(device: str):
    """(ESM-2 3B, DNABERT-S, tokenizer, classifier) with seeded random weights, built on `device`.

    Speed does not depend on weight values: the benchmark and its worker processes use these, and
    every process that calls this gets the same weights.
    """
    import tempfile

    from virnucpro.models.classifier import MLPClassifier
    from virnucpro.models.dna_tokenizer import DnaTokenizer
    from virnucpro.models.dnabert import DNABERT_S
    from virnucpro.models.esm2 import PRESETS

    torch.manual_seed(0)
    with torch.device(device):
        esm = ESM2(PRESETS["esm2_t36_3B_UR50D"]).eval()
        dnabert = DnaBert(DNABERT_S).eval()
    torch.manual_seed(1)
    classifier = MLPClassifier(DNABERT_S.hidden_size + esm.cfg.embed_dim).eval()
    tmp = Path(tempfile.mkdtemp())
    train_dna_tokenizer(4096, seed=0, corpus_size=3000).save(str(tmp / "tokenizer.json"))
    return esm, dnabert, DnaTokenizer(tmp / "tokenizer.json"), classifier
