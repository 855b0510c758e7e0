"""RNA input (U for T) is read as DNA, with a warning.

The original's codon table drops every codon holding a U, so in RNA no stop codon is ever seen and every
frame of every chunk is kept: garbage with exit 0. Reading U as T gives the frames the same molecule's
DNA gives. Files without a U pay one scan of each batch's joined text.
"""

from __future__ import annotations

_U_TO_T = str.maketrans("Uu", "Tt")


def u_as_t(seqs: list[str]) -> tuple[list[str], list[int]]:
    """The sequences with U/u read as T/t, and the indices of those that held a U."""
    joined = "".join(seqs)
    if "U" not in joined and "u" not in joined:
        return seqs, []
    held = [k for k, s in enumerate(seqs) if "U" in s or "u" in s]
    return [s.translate(_U_TO_T) for s in seqs], held
