"""Is the input DNA at all? A protein FASTA given to `predict` is refused instead of classified.

Protein letters overlap the nucleotide alphabet (A, C, G, T, N and the IUPAC codes are amino acids
too), but in a protein only ~25% of the letters are A/C/G/T/U/N, in DNA ~100% (N runs included).
The first few Mbp decide; later batches are not examined (the cost stays off the scan's hot path).
"""

from __future__ import annotations

from virnucpro.errors import InputError
from virnucpro.io.seqio import RecordBatch

NUCLEOTIDES = "ACGTUNacgtun"
MIN_SHARE = 0.5  # below this share of A/C/G/T/U/N letters a batch is not nucleotide sequence
EXAMINE_BASES = 4_000_000


class NucleotideCheck:
    """Feed record batches in input order; raises on the first batch that is mostly not nucleotides."""

    def __init__(self, source: str) -> None:
        self.source, self.seen, self.records = source, 0, 0

    def add(self, batch: RecordBatch) -> None:
        """Raises InputError if this batch (while within the first EXAMINE_BASES) looks like protein."""
        first_record = self.records + 1
        self.records += len(batch.ids)
        if self.seen >= EXAMINE_BASES:
            return
        text = "".join(batch.seqs)
        self.seen += len(text)
        share = sum(text.count(c) for c in NUCLEOTIDES) / max(1, len(text))
        if share < MIN_SHARE:
            name = repr(batch.ids[0][:40])
            which = (f"record {first_record} ({name})" if first_record == self.records
                     else f"records {first_record}-{self.records} (first: {name})")
            raise InputError(f"{self.source!r} looks like protein, not DNA: only {share:.0%} of the letters of {which} "
                             "are A/C/G/T/U/N; give nucleotide reads or contigs (predict translates them itself)")
