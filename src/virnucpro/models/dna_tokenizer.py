"""DNABERT's BPE tokenizer read from its `tokenizer.json` with the `tokenizers` library."""

from __future__ import annotations

from pathlib import Path

from virnucpro.errors import ModelError


class DnaTokenizer:
    """Encodes DNA to `[CLS] bpe... [SEP]` ids, no truncation (as `tokenizer(seq)` in the original)."""

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        try:
            self._tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # the tokenizers library raises plain Exceptions for bad JSON
            raise ModelError(f"cannot read DNABERT tokenizer {str(path)!r} ({exc}): re-download the model "
                             "(virnucpro download)") from None
        self._tok.no_truncation()
        self._tok.no_padding()
        self.cls_id = self._tok.token_to_id("[CLS]")
        self.sep_id = self._tok.token_to_id("[SEP]")
        if self.cls_id is None or self.sep_id is None:
            raise ModelError(f"tokenizer {str(path)!r} has no [CLS]/[SEP] tokens: not a DNABERT tokenizer")

    @property
    def max_id(self) -> int:
        """The largest id this tokenizer can produce (added tokens included)."""
        return max(self._tok.get_vocab(with_added_tokens=True).values(), default=-1)

    def encode_batch(self, seqs: list[str]) -> list[list[int]]:
        """Token ids (with [CLS] ... [SEP]) of each sequence."""
        return [e.ids for e in self._tok.encode_batch(seqs)]
