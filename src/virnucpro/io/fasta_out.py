"""FASTA formatting matching the original's files: 60-column chunks, one-line frame records."""

from __future__ import annotations

from typing import IO, Iterable

WIDTH = 60  # Biopython's FASTA writer wraps at 60 columns


def format_wrapped(ids: Iterable[str], seqs: Iterable[str]) -> str:
    """Records as `>id` then the sequence in 60-column lines (Biopython `SeqIO.write(..., 'fasta')`)."""
    return "".join([f">{rid}\n{_wrap(seq)}\n" for rid, seq in zip(ids, seqs)])


def _wrap(seq: str) -> str:
    n = len(seq)
    if n <= WIDTH:
        return seq
    if n <= 2 * WIDTH:  # reads and short chunks skip the generic loop (hot path)
        return f"{seq[:WIDTH]}\n{seq[WIDTH:]}"
    if n <= 3 * WIDTH:
        return f"{seq[:WIDTH]}\n{seq[WIDTH:2 * WIDTH]}\n{seq[2 * WIDTH:]}"
    return "\n".join([seq[i:i + WIDTH] for i in range(0, n, WIDTH)])


def format_oneline(ids: Iterable[str], seqs: Iterable[str]) -> str:
    """Records as `>id\\nseq\\n` (the original's identified_*.fa files)."""
    return "".join([f">{rid}\n{seq}\n" for rid, seq in zip(ids, seqs)])


def format_prepared(batch) -> tuple[str, str, str]:
    """A PreparedBatch as the text of the original's three files (chunks, nucleotides, proteins)."""
    return (format_wrapped(batch.chunk_ids, batch.chunk_seqs), format_oneline(batch.frame_ids, batch.nucleotides),
            format_oneline(batch.frame_ids, batch.proteins))


def write_prepared(batch, chunks: IO[str], nucleotides: IO[str], proteins: IO[str]) -> None:
    """Append a PreparedBatch to the three files of the original's preparation step."""
    for fh, text in zip((chunks, nucleotides, proteins), format_prepared(batch)):
        fh.write(text)
