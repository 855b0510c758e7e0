"""Model configurations checked before anything is built: config.json values, and their agreement with the
weight file's layer count and tensor kinds (a config claiming 10^6 layers must fail before a model exists)."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Iterable, Mapping

from virnucpro.errors import ModelError

MAX_CONFIG_BYTES = 1 << 20  # a real config.json is ~1 kB
MAX_LAYERS = 1024
MAX_WIDTH = 1 << 16  # hidden size; ESM-2 15B is 5120
MAX_TABLE = 1 << 20  # vocabulary, FFN width

ESM_FIELDS = {  # HF name: (required, upper bound); values are ints >= 1
    "num_hidden_layers": (True, MAX_LAYERS), "hidden_size": (True, MAX_WIDTH),
    "num_attention_heads": (True, MAX_WIDTH), "vocab_size": (False, MAX_TABLE),
    "intermediate_size": (False, MAX_TABLE),
}
DNABERT_FIELDS = {
    "num_hidden_layers": (True, MAX_LAYERS), "hidden_size": (True, MAX_WIDTH),
    "num_attention_heads": (True, MAX_WIDTH), "vocab_size": (False, MAX_TABLE),
    "intermediate_size": (False, MAX_TABLE), "type_vocab_size": (False, MAX_TABLE),
}
KINDS = {"DNABERT-S": ("bert", "--dnabert"), "ESM-2": ("esm", "--esm")}  # what: (config model_type, its flag)
ESM_MIN_VOCAB = 33  # ids 0..32 of the ESM-1b alphabet (<mask> = 32) must have rows


def read_config(path: Path, what: str) -> dict:
    """config.json as a dict, refusing files too large, too deep, or not a JSON object.

    Raises:
        ModelError: naming the file and the fix.
    """
    fix = f"not a usable {what} configuration: re-download the model (virnucpro download)"
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or device would block or never end
            raise ModelError(f"{str(path)!r} is not a regular file: {fix}")
        with open(path, "rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ModelError(f"cannot read {str(path)!r} ({exc.strerror or exc}): {fix}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ModelError(f"{str(path)!r} is larger than {MAX_CONFIG_BYTES >> 10} kB: {fix}")
    try:
        c = json.loads(raw.decode("utf-8"))
    except RecursionError:
        raise ModelError(f"{str(path)!r} is nested too deeply: {fix}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(f"{str(path)!r} is not valid JSON ({str(exc)[:70]}): {fix}") from None
    if not isinstance(c, dict):
        raise ModelError(f"{str(path)!r} holds a JSON {type(c).__name__}, not an object: {fix}")
    if what in KINDS:
        check_not_the_other_encoder(c, what, path)
    return c


def check_not_the_other_encoder(c: dict, what: str, path: Path) -> None:
    """A config.json whose `model_type` is the other encoder's: --dnabert and --esm were swapped.

    Raises:
        ModelError: naming what the directory holds and which flag takes it.
    """
    for other, (model_type, flag) in KINDS.items():
        if other != what and c.get("model_type") == model_type:
            article = "an" if other[0] in "AEIOU" else "a"
            raise ModelError(f"{str(Path(path).parent)!r} holds {article} {other} model (config.json model_type "
                             f"{model_type!r}), not {what}: give it to {flag} and the {what} model to "
                             f"{KINDS[what][1]} (were the two swapped?)")


def checked_ints(c: Mapping, fields: Mapping[str, tuple[bool, int]], where: str) -> dict[str, int]:
    """The present integer fields of `c`, each an int (not a bool) in 1..bound; required ones must be present.

    Raises:
        ModelError: the first missing or bad value, naming it.
    """
    out = {}
    for name, (required, bound) in fields.items():
        if name not in c:
            if required:
                raise ModelError(f"{where}: {name!r} is missing: re-download the model (virnucpro download)")
            continue
        v = c[name]
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= bound:
            raise ModelError(f"{where}: {name!r} is {_short(v)}, not a whole number from 1 to {bound}: "
                             "re-download the model (virnucpro download)")
        out[name] = v
    return out


def checked_eps(c: Mapping, name: str, default: float, where: str) -> float:
    v = c.get(name, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 < v < 1:
        raise ModelError(f"{where}: {name!r} is {_short(v)}, not a small positive number: re-download the model")
    return float(v)


def checked_flag(c: Mapping, name: str, default: bool, where: str) -> bool:
    v = c.get(name, default)
    if not isinstance(v, bool):
        raise ModelError(f"{where}: {name!r} is {_short(v)}, not true or false: re-download the model")
    return v


def check_heads(hidden: int, heads: int, where: str, even_head_dim: bool = False) -> None:
    """Attention heads must divide the hidden size (and give an even head width for rotary positions)."""
    if hidden % heads or (even_head_dim and (hidden // heads) % 2):
        need = "an even number of dimensions per head" if hidden % heads == 0 else "a whole number of dimensions"
        raise ModelError(f"{where}: {heads} attention heads do not split hidden size {hidden} into {need}: "
                         "re-download the model (virnucpro download)")


_LAYER_INDEX = re.compile(r"(?:^|\.)layers?\.(\d+)\.")


def check_layer_count(keys: Iterable[str], expected: int, what: str) -> None:
    """The weight file holds layers 0..expected-1, no more and no fewer (checked before any model is built).

    Raises:
        ModelError: naming both counts.
    """
    found = {int(m.group(1)) for k in keys if (m := _LAYER_INDEX.search(k))}
    if found != set(range(expected)):
        have = f"{len(found)} layers" + (f" (indices up to {max(found)})" if found and max(found) >= len(found) else "")
        raise ModelError(f"{what}: the configuration says {expected} layers but the weight file holds {have}: "
                         "use a config.json and weights of the same model (re-download it)")


def check_float_weights(state: Mapping, what: str) -> None:
    """Every weight is a floating-point tensor (an integer or bool tensor cannot be a trained weight).

    Raises:
        ModelError: naming the first such tensor and its type.
    """
    for key, t in state.items():
        if not t.is_floating_point():
            raise ModelError(f"{what}: tensor {key!r} holds {str(t.dtype).replace('torch.', '')} values, not "
                             "floating-point weights (a damaged or foreign file): re-download the model")


def check_expected_shapes(expected: Mapping[str, tuple[int, ...]], state: Mapping, unexpected: Iterable[str],
                          what: str) -> None:
    """Keys and shapes of `state` against a model's `state_shapes(cfg)`, without loading anything (the same
    rule as weights.load_strict, which applies it again when the data is loaded).

    Raises:
        ModelError: listing missing keys, unexpected keys and shape mismatches.
    """
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(unexpected) | (set(state) - set(expected)))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v)}" for k, v in expected.items()
             if k in state and tuple(state[k].shape) != tuple(v)]
    problems = [f"{label}: {_few(items)}" for label, items in
                (("missing keys", missing), ("unexpected keys", extra), ("wrong shapes", wrong)) if items]
    if problems:
        raise ModelError(f"{what} does not match its configuration ({'; '.join(problems)}): check that the file is "
                         "the right model and complete")


def check_token_ids(max_id: int, vocab_size: int, what: str) -> None:
    """Every id a tokenizer can produce has a row in the embedding table.

    Raises:
        ModelError: naming both numbers.
    """
    if max_id >= vocab_size:
        raise ModelError(f"{what}: the tokenizer produces ids up to {max_id} but the model's vocabulary has "
                         f"{vocab_size} rows: use the tokenizer and weights of the same model (re-download it)")


def _short(v) -> str:
    text = json.dumps(v) if isinstance(v, (bool, type(None))) else repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _few(items: list[str], n: int = 6) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n} more)" if len(items) > n else "")
