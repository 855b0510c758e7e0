"""ESM-2's "ESM-1b" alphabet: protein strings -> `<cls> residues <eos>` token ids."""

from __future__ import annotations

import re

import numpy as np

TOKENS = ["<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R", "T", "I", "D", "P", "K", "Q", "N",
          "F", "Y", "M", "H", "W", "C", "X", "B", "U", "Z", "O", ".", "-", "<null_1>", "<mask>"]
TOKEN_ID = {t: i for i, t in enumerate(TOKENS)}
CLS, PAD, EOS, MASK = 0, 1, 2, 32
_LUT = np.full(256, -1, dtype=np.int64)
for _t, _i in TOKEN_ID.items():
    if len(_t) == 1:
        _LUT[ord(_t)] = _i
_SPECIAL = re.compile(r"(<[a-z_0-9]+>)")


def encode_protein(seq: str) -> list[int]:
    """Token ids of one protein with BOS/EOS; `<mask>`-style special tokens are recognised.

    Raises:
        ValueError: a character outside the alphabet (fair-esm raises too; it never maps to <unk>).
    """
    if "<" in seq:
        ids = []
        for part in _SPECIAL.split(seq):
            ids += [TOKEN_ID[part]] if part in TOKEN_ID else _encode_plain(part)
        return [CLS, *ids, EOS]
    return [CLS, *_encode_plain(seq), EOS]


def _encode_plain(seq: str) -> list[int]:
    ids = _LUT[np.frombuffer(seq.encode("ascii", "replace"), dtype=np.uint8)]
    if (ids < 0).any():
        bad = seq[int(np.flatnonzero(ids < 0)[0])]
        raise ValueError(f"character {bad!r} is not in the ESM-2 alphabet")
    return ids.tolist()
