"""Load ESM-2 and DNABERT-S from their published on-disk formats, strictly, by name."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import torch
from torch.overrides import TorchFunctionMode

from virnucpro.errors import ModelError
from virnucpro.models.config_checks import (DNABERT_FIELDS, ESM_FIELDS, ESM_MIN_VOCAB, MAX_LAYERS, check_float_weights,
                                            check_heads, check_layer_count, check_token_ids, checked_eps,
                                            checked_flag, checked_ints, read_config)
from virnucpro.models.dna_tokenizer import DnaTokenizer
from virnucpro.models.dnabert import DnaBert, DnaBertConfig
from virnucpro.models.esm2 import ESM2, PRESETS, ESM2Config
from virnucpro.models.safe_pickle import Record, safe_load
from virnucpro.io.verified import NOTHING_REMEMBERED, VerifiedFiles, file_key
from virnucpro.models.lazy_weights import read_tensor_meta
from virnucpro.models.weights import NameMap, Placement, find_weight_file, load_strict, read_state_file, remap

_ESM_LAYER = {  # our name <- (fair-esm name, HF name)
    "attn_norm.{w}": ("self_attn_layer_norm.{w}", "attention.LayerNorm.{w}"),
    "out_proj.{w}": ("self_attn.out_proj.{w}", "attention.output.dense.{w}"),
    "ffn_norm.{w}": ("final_layer_norm.{w}", "LayerNorm.{w}"),
    "fc1.{w}": ("fc1.{w}", "intermediate.dense.{w}"),
    "fc2.{w}": ("fc2.{w}", "output.dense.{w}"),
}
_QKV = {0: ("q_proj", "query"), 1: ("k_proj", "key"), 2: ("v_proj", "value")}


def _esm_rules(hf: bool) -> dict[str, tuple[str, int | None]]:
    lp = "encoder.layer.{}." if hf else "layers.{}."
    rules: dict[str, tuple[str, int | None]] = {
        ("embeddings.word_embeddings.weight" if hf else "embed_tokens.weight"): ("embed_tokens.weight", None),
        lp + ("attention.self.rotary_embeddings.inv_freq" if hf else "self_attn.rot_emb.inv_freq"):
            ("layers.{}.inv_freq", None),
    }
    for w in ("weight", "bias"):
        rules[("encoder.emb_layer_norm_after." if hf else "emb_layer_norm_after.") + w] = (f"final_norm.{w}", None)
        for ours, (fair, hfn) in _ESM_LAYER.items():
            rules[lp + (hfn if hf else fair).format(w=w)] = ("layers.{}." + ours.format(w=w), None)
        for part, (fair, hfn) in _QKV.items():
            rules[lp + (f"attention.self.{hfn}.{w}" if hf else f"self_attn.{fair}.{w}")] = (f"layers.{{}}.qkv.{w}", part)
    return rules


ESM_HF_NAMES = NameMap(_esm_rules(hf=True), strip_prefixes=("esm.",),
                       ignore=(r"^lm_head\.", r"contact_head\.", r"position_ids$", r"position_embeddings\.",
                               r"^pooler\."))
ESM_FAIR_NAMES = NameMap(_esm_rules(hf=False), strip_prefixes=("encoder.sentence_encoder.", "encoder."),
                         ignore=(r"^lm_head\.", r"^contact_head\.", r"^regression\."))

_BERT_LAYER = {
    "Wqkv.{w}": "attention.self.Wqkv.{w}", "attn_out.{w}": "attention.output.dense.{w}",
    "attn_norm.{w}": "attention.output.LayerNorm.{w}", "wo.{w}": "mlp.wo.{w}", "mlp_norm.{w}": "mlp.layernorm.{w}",
}
DNABERT_NAMES = NameMap(
    {"embeddings.word_embeddings.weight": ("word_embeddings.weight", None),
     "embeddings.token_type_embeddings.weight": ("token_type_embeddings.weight", None),
     "embeddings.LayerNorm.weight": ("emb_norm.weight", None), "embeddings.LayerNorm.bias": ("emb_norm.bias", None),
     "encoder.layer.{}.mlp.gated_layers.weight": ("layers.{}.gated.weight", None),
     **{"encoder.layer.{}." + src.format(w=w): ("layers.{}." + dst.format(w=w), None)
        for dst, src in _BERT_LAYER.items() for w in ("weight", "bias")}},
    strip_prefixes=("bert.",),
    ignore=(r"^cls\.", r"^pooler\.", r"position_ids$", r"token_type_ids$"),
)

log = logging.getLogger("virnucpro")

FAIR_ESM_RECORDS = {"argparse.Namespace", "omegaconf.", "typing.Any", "builtins.dict", "builtins.list",
                    "fairseq.", "pathlib.PosixPath"}


class _SkipInit(TorchFunctionMode):
    """Skips `torch.nn.init` calls: the random initial values of a module about to get its weights are never read."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__module__", "") == "torch.nn.init":
            return args[0] if args else kwargs["tensor"]
        return func(*args, **(kwargs or {}))


def _uninitialised(cls, cfg):
    """`cls(cfg)` with its parameters allocated but never written (untouched pages cost no memory); they are all
    replaced by the loaded weights. Not on the meta device: ops on meta tensors import torch's compiler (seconds)."""
    with _SkipInit():
        return cls(cfg)


def load_esm(path: Path, place: Placement = Placement(), records: VerifiedFiles = NOTHING_REMEMBERED) -> ESM2:
    """ESM-2 from an HF directory (EsmModel/EsmForMaskedLM) or a fair-esm `esm2_*.pt` file, on `place.device` in
    `place.dtype` (default: the CPU, fp32); `records` skips the checks already passed by this version of the file."""
    path = Path(path)
    weights = find_weight_file(path) if path.is_dir() else path
    key, known = _known(weights, records)
    cfg, state, unexpected = esm_parts(path, place=place, records=records)
    model = load_strict(_uninitialised(ESM2, cfg), state, unexpected, f"ESM-2 weights {path}", place,
                        "finite" not in known)
    _remember_finite(records, weights, key, known)
    return model.eval()


def esm_parts(path: Path, lazy: bool = False, place: Placement = Placement(),
              records: VerifiedFiles = NOTHING_REMEMBERED) -> tuple[ESM2Config, dict, list[str]]:
    """(checked config, module state dict, unexpected keys) of an ESM-2 model, before anything is built.

    Args:
        lazy: tensors without their data (shapes and dtypes only), to check the files before a run.
        place, records: where the tensors go, and what is known of the file (see `load_esm`).
    Raises:
        ModelError: the config is bad or disagrees with the weights, or a file cannot be read.
    """
    path = Path(path)
    device = "cpu" if lazy else place.device
    if path.is_dir():
        cfg = _esm_config_from_hf(path)
        weights = find_weight_file(path)
        raw = modern_names(read_tensor_meta(weights) if lazy else read_state_file(weights, records))
        check_layer_count(raw, cfg.num_layers, f"ESM-2 weights in {path}")
        state, unexpected = remap(_shared_inv_freq_per_layer(raw, cfg.num_layers), ESM_HF_NAMES,
                                  f"ESM-2 weights in {path}", device)
    elif path.is_file():
        obj = safe_load(path, FAIR_ESM_RECORDS, lazy=lazy)
        if not isinstance(obj, dict) or not isinstance(obj.get("model"), dict):
            raise ModelError(f"{str(path)!r} is not a fair-esm checkpoint (no 'model' entry)")
        state, unexpected = remap(obj["model"], ESM_FAIR_NAMES, f"ESM-2 checkpoint {path}", device)
        cfg = _esm_config_from_state(state, obj.get("cfg"), path)
    else:
        raise ModelError(f"ESM-2 model {str(path)!r} not found: give a model directory, a fair-esm .pt file, or a "
                         "Hugging Face id such as facebook/esm2_t36_3B_UR50D")
    check_float_weights(state, f"ESM-2 weights {path}")
    _fill_missing_inv_freq(state, cfg, path)
    return cfg, state, unexpected


def _known(weights: Path, records: VerifiedFiles) -> tuple[list[int], dict[str, str]]:
    """The weight file's key (taken before it is read) and what its record says about this version of it."""
    if records.root is None or not weights.is_file():
        return [], {}
    return file_key(weights), records.facts(weights)


def _remember_finite(records: VerifiedFiles, weights: Path, key: list[int], known: dict[str, str]) -> None:
    if "finite" not in known:
        records.remember(weights, key, finite="ok")


_SHARED_INV_FREQ = re.compile(r"^(esm\.)?(rotary_embeddings|encoder\.layer\.\*\.attention\.self\.rotary_embeddings)"
                              r"\.inv_freq$")


def _shared_inv_freq_per_layer(state: dict, num_layers: int) -> dict:
    """transformers 5.x saves one rotary table for all layers (`esm.rotary_embeddings.inv_freq`, or a
    `encoder.layer.*.` key): give every layer its copy, as older checkpoints store them."""
    shared = [k for k in state if _SHARED_INV_FREQ.match(k)]
    if not shared:
        return state
    table = state[shared[0]]
    out = {k: v for k, v in state.items() if k not in shared}
    prefix = "esm." if any(k.startswith("esm.") for k in out) else ""
    for i in range(num_layers):
        out.setdefault(f"{prefix}encoder.layer.{i}.attention.self.rotary_embeddings.inv_freq", table)
    return out


def modern_names(state: dict) -> dict:
    """LayerNorm `gamma`/`beta` (old TF-era names that transformers still writes) -> `weight`/`bias`."""
    def rename(key: str) -> str:
        if key.endswith(".gamma"):
            return key[: -len("gamma")] + "weight"
        if key.endswith(".beta"):
            return key[: -len("beta")] + "bias"
        return key

    return {rename(k): v for k, v in state.items()}


def _fill_missing_inv_freq(state: dict, cfg: ESM2Config, path: Path) -> None:
    """Checkpoints re-saved by newer tools may drop the (non-persistent there) rotary inv_freq buffers.

    Only when ALL layers lack it: recompute analytically and warn, since the published values carry
    an fp16 round trip from training and recomputed ones differ slightly.
    """
    keys = [f"layers.{i}.inv_freq" for i in range(cfg.num_layers)]
    if any(k in state for k in keys):
        return
    log.warning("%s has no rotary inv_freq tables: recomputing them (embeddings may differ slightly from the "
                "original's; prefer the original checkpoint files)", path)
    inv = 1.0 / 10000 ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim)
    state.update({k: inv.clone() for k in keys})


def _esm_config_from_hf(path: Path) -> ESM2Config:
    c = read_config(path / "config.json", "ESM-2")
    if c.get("position_embedding_type", "rotary") != "rotary" or c.get("emb_layer_norm_before"):
        raise ModelError(f"{str(path)!r} is not an ESM-2 model (needs rotary positions, no embedding LayerNorm)")
    where = str(path / "config.json")
    n = checked_ints(c, ESM_FIELDS, repr(where))
    check_heads(n["hidden_size"], n["num_attention_heads"], repr(where), even_head_dim=True)
    vocab = n.get("vocab_size", ESM_MIN_VOCAB)
    check_token_ids(ESM_MIN_VOCAB - 1, vocab, f"ESM-2 model {str(path)!r}")
    return ESM2Config(num_layers=n["num_hidden_layers"], embed_dim=n["hidden_size"],
                      attention_heads=n["num_attention_heads"], vocab_size=vocab,
                      layer_norm_eps=checked_eps(c, "layer_norm_eps", 1e-5, repr(where)),
                      token_dropout=checked_flag(c, "token_dropout", True, repr(where)),
                      intermediate_size=n.get("intermediate_size", 4 * n["hidden_size"]))


def _esm_config_from_state(state: dict, cfg_obj, path: Path) -> ESM2Config:
    """Layers and width from tensor shapes; heads from the checkpoint's config or the preset table."""
    layers = 1 + max((int(k.split(".")[1]) for k in state if k.startswith("layers.")), default=-1)
    if "embed_tokens.weight" not in state or state["embed_tokens.weight"].dim() != 2:
        raise ModelError(f"{str(path)!r} has no 2-d token embedding table: not a complete ESM-2 checkpoint")
    vocab, dim = state["embed_tokens.weight"].shape
    if not 1 <= layers <= MAX_LAYERS:
        raise ModelError(f"{str(path)!r} holds {layers} layers (at most {MAX_LAYERS}): not an ESM-2 checkpoint")
    check_layer_count(state, layers, f"ESM-2 checkpoint {path}")  # indices 0..layers-1, none skipped
    heads = _cfg_field(cfg_obj, "encoder_attention_heads")
    if heads is None:
        match = [c for c in PRESETS.values() if (c.num_layers, c.embed_dim) == (layers, dim)]
        if not match:
            raise ModelError(f"{str(path)!r}: cannot tell the number of attention heads (no readable config, "
                             f"no preset with {layers} layers x {dim}): use the Hugging Face format instead")
        heads = match[0].attention_heads
    if isinstance(heads, bool) or not isinstance(heads, int) or not 1 <= heads <= dim:
        raise ModelError(f"{str(path)!r}: its config gives {heads!r} attention heads, not a whole number from 1 to "
                         f"{dim}: re-download the checkpoint")
    check_heads(dim, heads, repr(str(path)), even_head_dim=True)
    check_token_ids(ESM_MIN_VOCAB - 1, vocab, f"ESM-2 checkpoint {str(path)!r}")
    return ESM2Config(num_layers=layers, embed_dim=dim, attention_heads=heads, vocab_size=vocab)


def _cfg_field(cfg_obj, name: str):
    """Read cfg['model'].<name> from a fair-esm config stored as dicts or inert Records."""
    model = cfg_obj.get("model") if isinstance(cfg_obj, dict) else None
    for holder in (model, getattr(model, "state", None), getattr(model, "kwargs", None)):
        if isinstance(holder, dict) and name in holder:
            return holder[name]
    if isinstance(model, Record) and isinstance(model.state, dict):
        content = model.state.get("_content")
        if isinstance(content, dict) and name in content:
            node = content[name]
            return node.state.get("_val") if isinstance(node, Record) and isinstance(node.state, dict) else node
    return None


def load_dnabert(path: Path, place: Placement = Placement(),
                 records: VerifiedFiles = NOTHING_REMEMBERED) -> tuple[DnaBert, DnaTokenizer]:
    """DNABERT-S (or DNABERT-2) from its HF directory (config.json, weights, tokenizer.json), placed like `load_esm`."""
    path = Path(path)
    weights = find_weight_file(path) if path.is_dir() else path
    key, known = _known(weights, records)
    cfg, state, unexpected, tokenizer = dnabert_parts(path, records=records)
    model = load_strict(_uninitialised(DnaBert, cfg), state, unexpected, f"DNABERT weights {path}", place,
                        "finite" not in known)
    _remember_finite(records, weights, key, known)
    return model.eval(), tokenizer


def dnabert_parts(path: Path, lazy: bool = False,
                  records: VerifiedFiles = NOTHING_REMEMBERED) -> tuple[DnaBertConfig, dict, list[str], DnaTokenizer]:
    """(checked config, module state dict, unexpected keys, tokenizer) of DNABERT, before anything is built.

    Args:
        lazy: tensors without their data (shapes and dtypes only), to check the files before a run.
    Raises:
        ModelError: the config is bad or disagrees with the weights or the tokenizer, or a file cannot be read.
    """
    path = Path(path)
    if not path.is_dir():
        raise ModelError(f"DNABERT-S model {str(path)!r} not found: give its directory or a Hugging Face id such "
                         "as zhihan1996/DNABERT-S")
    cfg = _dnabert_config(path)
    if not (path / "tokenizer.json").exists():
        raise ModelError(f"no tokenizer.json in {str(path)!r}: incomplete DNABERT-S directory (virnucpro download)")
    raw = modern_names(read_tensor_meta(find_weight_file(path)) if lazy
                       else read_state_file(find_weight_file(path), records))
    check_layer_count(raw, cfg.num_hidden_layers, f"DNABERT weights in {path}")
    state, unexpected = remap(raw, DNABERT_NAMES, f"DNABERT weights in {path}")
    check_float_weights(state, f"DNABERT weights {path}")
    tokenizer = DnaTokenizer(path / "tokenizer.json")
    check_token_ids(tokenizer.max_id, cfg.vocab_size, f"DNABERT model {str(path)!r}")
    return cfg, state, unexpected, tokenizer


def _dnabert_config(path: Path) -> DnaBertConfig:
    c = read_config(path / "config.json", "DNABERT-S")
    where = repr(str(path / "config.json"))
    n = checked_ints(c, DNABERT_FIELDS, where)
    check_heads(n["hidden_size"], n["num_attention_heads"], where)
    return DnaBertConfig(**n, layer_norm_eps=checked_eps(c, "layer_norm_eps", DnaBertConfig.layer_norm_eps, where))
