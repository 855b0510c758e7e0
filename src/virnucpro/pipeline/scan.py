"""Passes over a run's inputs: the validating scan (counts), prepared batches, the intermediate FASTA files."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from virnucpro.atomic import atomic_files
from virnucpro.io.nucleotides import NucleotideCheck
from virnucpro.pipeline.outputs import OutputPaths
from virnucpro.prep.prepare import count_batch, prepare_batch
from virnucpro.io.seqio import ReadStats, read_inputs
from virnucpro.io.spool import InputSource

log = logging.getLogger("virnucpro")
READ_BATCH = 4096  # records parsed and prepared at a time (bounds the prepare stage's memory)


@dataclass(frozen=True)
class InputSet:
    """A run's inputs, re-readable, and how to read them."""

    sources: list[InputSource]
    chunk_size: int
    threads: int
    paired: bool

    def batches(self, stats: ReadStats | None = None, warn: bool = False):
        """Record batches; `warn`: say what was skipped (only the scan does, so a run says it once)."""
        return read_inputs([s.path for s in self.sources], READ_BATCH, stats, self.threads, self.paired, warn)

    def prepared(self):
        for batch in self.batches():
            yield prepare_batch(batch, self.chunk_size)

    def describe(self) -> dict:
        """run_info's `input`: one file as before; several, or mates, as a list with the pairing."""
        if len(self.sources) == 1 and not self.paired:
            return self.sources[0].describe()
        return {"files": [s.describe() for s in self.sources], "paired": self.paired}


def scan(inputs: InputSet) -> dict:
    """One cheap CPU pass: validates the input (format, duplicates, nucleotides) and counts what will be computed."""
    stats, chunks, frames = ReadStats(), 0, 0
    t0 = time.perf_counter()
    nucleotides = NucleotideCheck(", ".join(s.given for s in inputs.sources))
    for batch in inputs.batches(stats, warn=True):
        nucleotides.add(batch)
        c, f = count_batch(batch, inputs.chunk_size)
        chunks, frames = chunks + c, frames + f
    log.info("input: %d records (%d empty skipped), %d bp, %d chunks, %d frames to embed (scan %.1f s)",
             stats.records, stats.empty, stats.bases, chunks, frames, time.perf_counter() - t0)
    if stats.records == 0:
        log.warning("the input holds no sequences: the result tables will have headers only")
    return {"records": stats.records, "empty_records_skipped": stats.empty, "bases": stats.bases,
            "chunks": chunks, "frames": frames}


def write_intermediate_fasta(inputs: InputSet, out: OutputPaths) -> None:
    """`--keep-intermediate`: chunks.fa, identified_nucleotide.fa, identified_protein.faa (as `prepare`)."""
    from virnucpro.io.fasta_out import write_prepared

    with atomic_files(out.prepare_files()) as (c, n, p):
        for b in inputs.prepared():
            write_prepared(b, c, n, p)
