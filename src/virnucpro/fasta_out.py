"""FASTA formatting matching the original's files: 60-column chunks, one-line frame records."""

from __future__ import annotations

from typing import Iterable

WIDTH = 60  # Biopython's FASTA writer wraps at 60 columns


def format_wrapped(ids: Iterable[str], seqs: Iterable[str]) -> str:
    """Records as `>id` then the sequence in 60-column lines (Biopython `SeqIO.write(..., 'fasta')`)."""
    parts: list[str] = []
    for rid, seq in zip(ids, seqs):
        parts.append(f">{rid}\n")
        if len(seq) <= WIDTH:
            parts.append(seq + "\n")
        else:
            parts.append("\n".join(seq[i:i + WIDTH] for i in range(0, len(seq), WIDTH)) + "\n")
    return "".join(parts)


def format_oneline(ids: Iterable[str], seqs: Iterable[str]) -> str:
    """Records as `>id\\nseq\\n` (the original's identified_*.fa files)."""
    return "".join(f">{rid}\n{seq}\n" for rid, seq in zip(ids, seqs))
